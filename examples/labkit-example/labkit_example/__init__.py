"""An example labkit plug-in, the template for a teacher's own: see README.md beside it."""
