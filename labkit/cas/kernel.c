/* labkit CAS contention kernel: real threads, real `lock cmpxchg`, this machine's cores.
 *
 * Why C with pthreads: a lock handoff between two cores costs tens to hundreds of
 * nanoseconds, a ctypes call from Python costs more than that.  So the whole experiment
 * (threads, locks, counters, timestamps) runs here and Python only reads the results.
 *
 * The seed's two listings are used verbatim (AT&T syntax, same instructions, same order):
 *   LK_UNSAFE  l2: mov eax,[mutex] / cmp eax,1 / je l2 / mov eax,1 / l3: mov [mutex],eax
 *   LK_TTAS    mov edx,1 / l2: mov eax,[mutex] / cmp eax,1 / je l2 / lock cmpxchg [mutex],edx / jnz l2
 * and variants of the second one: with `pause` in the spin, plain test-and-set (cmpxchg in a
 * loop without the read-only spin), with/without pause, and exponential backoff.
 * Release is the harness's `mov [mutex],0` (a plain store is a release on x86).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

enum { LK_UNSAFE = 0, LK_TTAS, LK_TTAS_PAUSE, LK_TAS, LK_TAS_PAUSE, LK_TTAS_BACKOFF, LK_MUTEX, LK_COUNT };

struct cas_result {
    uint64_t acquisitions;   /* sum of what each thread counted privately */
    uint64_t counter;        /* the shared counter incremented (non-atomically) in the CS */
    uint64_t handoffs;       /* acquisitions by a different thread than the previous owner */
    uint64_t samples;        /* contended handoffs timed (waiter was already waiting) */
    double elapsed_s;
    double handoff_p50_ns, handoff_p99_ns, handoff_mean_ns;
    double acquire_p50_ns;   /* median over batches of ns per acquisition (all threads), see BATCH */
    uint64_t batches;
};

#define LINE 64
struct shared {
    _Alignas(LINE) volatile int lock;                    /* the [mutex] word, own cache line */
    _Alignas(LINE) volatile uint64_t counter;            /* protected data, own line */
    volatile int last_owner;
    volatile uint64_t t_release;
    _Alignas(LINE) volatile int stop;
    volatile int ready;
    _Alignas(LINE) pthread_mutex_t mutex;
};

#define MAX_SAMPLES (1u << 18)
struct worker {
    pthread_t tid;
    struct shared *sh;
    int id, kind, timed, work, cpu, fair;
    uint64_t mine, handoffs, nsamples;
    uint32_t *samples;
    uint64_t nbatches;
    double *batch_ns;        /* thread 0 only: ns per acquisition in each batch */
};

/* Thread 0 stamps the TSC and reads the shared counter (exact: it is inside the CS) every BATCH
 * of its own acquisitions.  The median batch is what one acquisition costs while the machine
 * lets the threads run; a batch in which a thread was preempted is an outlier, not the figure
 * (the machine is shared, and a preempted spinner or owner stalls the other for a time slice). */
#define BATCH 64
#define MAX_BATCHES (1u << 16)

/* The spinning locks, as inline asm.  Each family is written once; its variants differ only in
 * how a waiter spins, which is the point the bench makes:
 *   SPIN_TIGHT  `je 1b`: reread [mutex] at once (the seed's listings, verbatim)
 *   SPIN_PAUSE  `pause` before rereading (Intel's advice for spin-wait loops)
 * The test-and-set family retries the cmpxchg itself: RETRY_TIGHT or RETRY_PAUSE. */
#define SPIN_TIGHT "je 1b\n\t"
#define SPIN_PAUSE "jne 2f\n\t" "pause\n\t" "jmp 1b\n\t" "2: "
#define RETRY_TIGHT "jnz 1b\n\t"
#define RETRY_PAUSE "jz 2f\n\t" "pause\n\t" "jmp 1b\n\t" "2:\n\t"

/* seed listing 1: l2: mov eax,[mutex] / cmp eax,1 / je l2 / mov eax,1 / l3: mov [mutex],eax */
#define UNSAFE_LOCK(m, spin)                                                   \
    __asm__ __volatile__("1: movl %0, %%eax\n\t" "cmpl $1, %%eax\n\t" spin    \
                         "movl $1, %%eax\n\t" "movl %%eax, %0\n\t"            \
                         : "+m"(*(m)) : : "eax", "cc", "memory")
/* seed listing 2: mov edx,1 / l2: mov eax,[mutex] / cmp eax,1 / je l2 / lock cmpxchg [mutex],edx / jnz l2 */
#define TTAS_LOCK(m, spin)                                                     \
    __asm__ __volatile__("movl $1, %%edx\n\t" "1: movl %0, %%eax\n\t"         \
                         "cmpl $1, %%eax\n\t" spin                            \
                         "lock cmpxchgl %%edx, %0\n\t" "jnz 1b\n\t"           \
                         : "+m"(*(m)) : : "eax", "edx", "cc", "memory")
/* plain test-and-set: cmpxchg 0 -> 1 in a loop, no read-only spin */
#define TAS_LOCK(m, retry)                                                     \
    __asm__ __volatile__("movl $1, %%edx\n\t" "1: xorl %%eax, %%eax\n\t"      \
                         "lock cmpxchgl %%edx, %0\n\t" retry                  \
                         : "+m"(*(m)) : : "eax", "edx", "cc", "memory")

static inline void acquire(struct shared *sh, int kind) {
    volatile int *m = &sh->lock;
    switch (kind) {
    case LK_UNSAFE: UNSAFE_LOCK(m, SPIN_TIGHT); break;
    case LK_TTAS: TTAS_LOCK(m, SPIN_TIGHT); break;
    case LK_TTAS_PAUSE: TTAS_LOCK(m, SPIN_PAUSE); break;
    case LK_TAS: TAS_LOCK(m, RETRY_TIGHT); break;
    case LK_TAS_PAUSE: TAS_LOCK(m, RETRY_PAUSE); break;
    case LK_TTAS_BACKOFF: {
        unsigned delay = 4;
        for (;;) {
            while (__atomic_load_n(m, __ATOMIC_RELAXED)) _mm_pause();
            int expected = 0;
            if (__atomic_compare_exchange_n(m, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return;
            for (unsigned i = 0; i < delay; i++) _mm_pause();
            if (delay < 1024) delay *= 2;
        }
    }
    case LK_MUTEX:
        pthread_mutex_lock(&sh->mutex);
        break;
    }
}

static inline void release(struct shared *sh, int kind) {
    if (kind == LK_MUTEX) pthread_mutex_unlock(&sh->mutex);
    else __atomic_store_n(&sh->lock, 0, __ATOMIC_RELEASE);    /* mov [mutex],0 */
}

static void pin(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *contend(void *arg) {
    struct worker *w = arg;
    struct shared *sh = w->sh;
    pin(w->cpu);
    __atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
    while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) >= 0) _mm_pause();   /* start gate */
    uint64_t b_tsc = 0, b_count = 0;
    while (!sh->stop) {
        uint64_t t0 = w->timed ? __rdtsc() : 0;
        acquire(sh, w->kind);
        unsigned aux;
        uint64_t t1 = w->timed ? __rdtscp(&aux) : 0;   /* rdtscp: waits for the acquire */
        /* critical section: a non-atomic increment (load, add, store), like `x++` */
        uint64_t c = __atomic_load_n(&sh->counter, __ATOMIC_RELAXED);
        __atomic_store_n(&sh->counter, c + 1, __ATOMIC_RELAXED);
        if (w->batch_ns && w->mine % BATCH == 0) {
            uint64_t now = __rdtsc();
            if (w->mine > 0 && c + 1 > b_count && w->nbatches < MAX_BATCHES)
                w->batch_ns[w->nbatches++] = (double)(now - b_tsc) / (double)(c + 1 - b_count);
            b_tsc = now;
            b_count = c + 1;
        }
        if (sh->last_owner != w->id) {
            w->handoffs++;
            uint64_t tr = sh->t_release;
            if (w->timed && sh->last_owner >= 0 && t0 < tr && t1 > tr && w->nsamples < MAX_SAMPLES)
                w->samples[w->nsamples++] = (uint32_t)((t1 - tr) > 0xffffffffu ? 0xffffffffu : (t1 - tr));
            sh->last_owner = w->id;
        }
        if (w->timed) sh->t_release = __rdtsc();
        release(sh, w->kind);
        w->mine++;
        for (volatile int k = 0; k < w->work; k++) { }
        /* fair handoff: do not try again before another thread has had the lock, so every
         * acquisition is a handoff and no lock can win by letting one owner re-take it */
        if (w->fair)
            while (sh->last_owner == w->id && !sh->stop) _mm_pause();
    }
    return NULL;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* TSC ticks per nanosecond, measured against CLOCK_MONOTONIC (invariant TSC assumed). */
double cas_tsc_per_ns(void) {
    static double cached;
    if (cached > 0) return cached;
    double a = now_s();
    uint64_t t0 = __rdtsc();
    struct timespec d = {0, 20 * 1000 * 1000};
    nanosleep(&d, NULL);
    double b = now_s();
    uint64_t t1 = __rdtsc();
    cached = (double)(t1 - t0) / ((b - a) * 1e9);
    return cached;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int cas_kinds(void) { return LK_COUNT; }
int cas_cpus(void) { return (int)sysconf(_SC_NPROCESSORS_ONLN); }

/* Run `nthreads` contenders of lock `kind` for `seconds`; thread i is pinned to cpu i % ncpu.
 * `fair` (with nthreads > 1): after a release a thread waits until another one has owned the
 * lock.  Without it, a lock that lets its owner re-take it at once (glibc's mutex does: the
 * waiter sleeps in the kernel, the owner's next lock() finds the word free) runs long same-
 * thread batches, and throughput then measures how long the waiter stays asleep. */
int cas_run(int kind, int nthreads, double seconds, int timed, int work, int fair,
            struct cas_result *out) {
    if (kind < 0 || kind >= LK_COUNT || nthreads < 1 || nthreads > 256) return -1;
    struct shared *sh = aligned_alloc(LINE, sizeof *sh);
    if (!sh) return -2;
    memset(sh, 0, sizeof *sh);
    sh->last_owner = -1;
    pthread_mutex_init(&sh->mutex, NULL);
    struct worker *ws = calloc(nthreads, sizeof *ws);
    int ncpu = cas_cpus();
    for (int i = 0; i < nthreads; i++) {
        ws[i] = (struct worker){.sh = sh, .id = i, .kind = kind, .timed = timed, .work = work,
                                .cpu = i % ncpu, .fair = fair && nthreads > 1};
        if (timed) ws[i].samples = malloc(MAX_SAMPLES * sizeof(uint32_t));
        if (i == 0) ws[i].batch_ns = malloc(MAX_BATCHES * sizeof(double));
        pthread_create(&ws[i].tid, NULL, contend, &ws[i]);
    }
    while (__atomic_load_n(&sh->ready, __ATOMIC_ACQUIRE) < nthreads) sched_yield();
    double t0 = now_s();
    __atomic_store_n(&sh->ready, -1, __ATOMIC_RELEASE);
    struct timespec d = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&d, NULL);
    sh->stop = 1;
    for (int i = 0; i < nthreads; i++) pthread_join(ws[i].tid, NULL);
    memset(out, 0, sizeof *out);
    out->elapsed_s = now_s() - t0;
    out->counter = sh->counter;
    uint64_t total = 0;
    for (int i = 0; i < nthreads; i++) {
        out->acquisitions += ws[i].mine;
        out->handoffs += ws[i].handoffs;
        total += ws[i].nsamples;
    }
    if (timed && total) {
        uint32_t *all = malloc(total * sizeof(uint32_t));
        uint64_t k = 0;
        double sum = 0;
        for (int i = 0; i < nthreads; i++)
            for (uint64_t j = 0; j < ws[i].nsamples; j++) { all[k++] = ws[i].samples[j]; sum += ws[i].samples[j]; }
        qsort(all, total, sizeof(uint32_t), cmp_u32);
        double f = cas_tsc_per_ns();
        out->samples = total;
        out->handoff_p50_ns = all[total / 2] / f;
        out->handoff_p99_ns = all[(uint64_t)(total * 0.99)] / f;
        out->handoff_mean_ns = sum / total / f;
        free(all);
    }
    if (ws[0].nbatches) {
        qsort(ws[0].batch_ns, ws[0].nbatches, sizeof(double), cmp_double);
        out->batches = ws[0].nbatches;
        out->acquire_p50_ns = ws[0].batch_ns[ws[0].nbatches / 2] / cas_tsc_per_ns();
    }
    free(ws[0].batch_ns);
    for (int i = 0; i < nthreads; i++) free(ws[i].samples);
    pthread_mutex_destroy(&sh->mutex);
    free(ws);
    free(sh);
    return 0;
}

/* Cache-line ping-pong between cpu 0 and cpu 1: the physical floor of any handoff. */
struct pp { _Alignas(LINE) volatile int flag; _Alignas(LINE) volatile int ready; long rounds; };

static void *pong(void *arg) {
    struct pp *p = arg;
    pin(1 % cas_cpus());
    __atomic_store_n(&p->ready, 1, __ATOMIC_RELEASE);
    for (long i = 0; i < p->rounds; i++) {
        while (p->flag != 1) { }
        p->flag = 0;
    }
    return NULL;
}

/* Round trip of one cache line: cpu0 writes 1, cpu1 sees it and writes 0, cpu0 sees that.
 * Batches of PP_BATCH round trips are timed with the TSC on cpu0 alone (one clock), and the
 * median batch is returned: the machine is shared, and a batch in which cpu1 was preempted
 * says nothing about the hardware.  Batching keeps rdtsc's own ~10 ns out of the number.
 * *mean_ns gets the plain mean over all rounds for comparison. */
#define PP_BATCH 32
double cas_pingpong_ns(long rounds, double *mean_ns) {
    struct pp *p = aligned_alloc(LINE, sizeof *p);
    rounds = (rounds + PP_BATCH - 1) / PP_BATCH * PP_BATCH;
    long nb = rounds / PP_BATCH;
    uint32_t *rt = malloc(nb * sizeof(uint32_t));
    memset(p, 0, sizeof *p);
    p->rounds = rounds;
    pthread_t t;
    double f = cas_tsc_per_ns();
    pin(0);
    pthread_create(&t, NULL, pong, p);
    while (!__atomic_load_n(&p->ready, __ATOMIC_ACQUIRE)) { }
    uint64_t first = __rdtsc(), prev = first;
    for (long b = 0; b < nb; b++) {
        for (int i = 0; i < PP_BATCH; i++) {
            p->flag = 1;
            while (p->flag != 0) { }
        }
        uint64_t now = __rdtsc();
        rt[b] = (uint32_t)((now - prev) > 0xffffffffu ? 0xffffffffu : (now - prev));
        prev = now;
    }
    pthread_join(t, NULL);
    if (mean_ns) *mean_ns = (prev - first) / f / rounds;
    qsort(rt, nb, sizeof(uint32_t), cmp_u32);
    double med = rt[nb / 2] / f / PP_BATCH;
    free(rt);
    free(p);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < cas_cpus(); c++) CPU_SET(c, &all);
    pthread_setaffinity_np(pthread_self(), sizeof all, &all);    /* undo the pin */
    return med;
}

/* Single acquire/release entry points for processes sharing a word through mmap (Python):
 * the seed's two locks with pause in the spin (a ctypes caller is slow enough without). */
void cas_acquire(volatile int *m) { TTAS_LOCK(m, SPIN_PAUSE); }
void unsafe_acquire(volatile int *m) { UNSAFE_LOCK(m, SPIN_PAUSE); }
void lock_release(volatile int *m) { __atomic_store_n(m, 0, __ATOMIC_RELEASE); }
