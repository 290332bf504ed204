/*
 * bench-floor: the fork/exec floor for scripts/bench.
 *
 * Usage: bench-floor P FILE
 *
 * Reads command lines from FILE (one per line; empty lines are skipped) and
 * runs each as `/bin/bash -o pipefail -c LINE`, started with posix_spawn in a
 * new process group (POSIX_SPAWN_SETPGROUP, as hs does). P threads each run a
 * tight loop: take the next line, posix_spawn, waitpid that child. stdin,
 * stdout and stderr are inherited. Nothing else is done per task: this is the
 * cost of spawning alone with P-way parallelism, the floor every runner is
 * compared against. (A single thread reaping with waitpid(-1) was measured to
 * be much slower than this on 2 cores, so it would flatter every tool.)
 *
 * Exit status: 0 if every command exited 0, 1 if any failed, 2 on a usage or
 * system error. The count of tasks run and failed goes to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **lines;
static long count;
static atomic_long next_line;
static atomic_long failed;
static posix_spawnattr_t attr;

static void *worker(void *unused)
{
    (void)unused;
    for (;;) {
        long i = atomic_fetch_add(&next_line, 1);
        if (i >= count)
            return NULL;
        char *args[] = {"bash", "-o", "pipefail", "-c", lines[i], NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, "/bin/bash", NULL, &attr, args, environ);
        if (rc != 0) {
            fprintf(stderr, "bench-floor: posix_spawn: %s\n", strerror(rc));
            atomic_fetch_add(&failed, 1);
            continue;
        }
        int status;
        pid_t got;
        do {
            got = waitpid(pid, &status, 0);
        } while (got < 0 && errno == EINTR);
        if (got < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            atomic_fetch_add(&failed, 1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s P FILE\n", argv[0]);
        return 2;
    }
    char *end;
    long slots = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || slots < 1 || slots > 4096) {
        fprintf(stderr, "bench-floor: bad P: %s\n", argv[1]);
        return 2;
    }
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror("bench-floor: open");
        return 2;
    }
    if (posix_spawnattr_init(&attr) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0) {
        fprintf(stderr, "bench-floor: posix_spawnattr setup failed\n");
        return 2;
    }
    /* Read every line first, so the measured loop does nothing but spawn. */
    long cap = 1024;
    lines = malloc(cap * sizeof *lines);
    char *line = NULL;
    size_t linecap = 0;
    ssize_t len;
    while (lines && (len = getline(&line, &linecap, in)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (count == cap) {
            cap *= 2;
            lines = realloc(lines, cap * sizeof *lines);
            if (!lines)
                break;
        }
        lines[count++] = strdup(line);
    }
    if (!lines || ferror(in)) {
        fprintf(stderr, "bench-floor: cannot read %s\n", argv[2]);
        return 2;
    }
    pthread_t *threads = calloc(slots, sizeof *threads);
    if (!threads)
        return 2;
    for (long t = 0; t < slots; t++) {
        if (pthread_create(&threads[t], NULL, worker, NULL) != 0) {
            fprintf(stderr, "bench-floor: cannot start thread %ld\n", t);
            return 2;
        }
    }
    for (long t = 0; t < slots; t++)
        pthread_join(threads[t], NULL);
    long bad = atomic_load(&failed);
    fprintf(stderr, "bench-floor: %ld tasks, %ld failed\n", count, bad);
    return bad ? 1 : 0;
}
