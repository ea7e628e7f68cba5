"""labkit: network labs from the seed blog posts."""
