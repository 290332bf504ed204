/*
 * bench-floor: the fork/exec floor for scripts/bench.
 *
 * Usage: bench-floor P FILE
 *
 * Reads command lines from FILE (one per line; empty lines are skipped) and
 * runs each as `/bin/bash -o pipefail -c LINE`, started with posix_spawn in a
 * new process group (POSIX_SPAWN_SETPGROUP, as hs does), keeping at most P
 * commands in flight and reaping them with waitpid(-1).  stdin, stdout and
 * stderr are inherited.  Nothing else is done per task: this is the cost of
 * spawning alone, the floor every runner is compared against.
 *
 * Exit status: 0 if every command exited 0, 1 if any failed, 2 on a usage or
 * system error.  The count of tasks run and failed goes to stderr.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static long reap(long *failed)
{
    int status;
    pid_t pid;
    do {
        pid = waitpid(-1, &status, 0);
    } while (pid < 0 && errno == EINTR);
    if (pid < 0) {
        perror("bench-floor: waitpid");
        exit(2);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        (*failed)++;
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s P FILE\n", argv[0]);
        return 2;
    }
    char *end;
    long slots = strtol(argv[1], &end, 10);
    if (*argv[1] == '\0' || *end != '\0' || slots < 1) {
        fprintf(stderr, "bench-floor: bad P: %s\n", argv[1]);
        return 2;
    }
    FILE *in = fopen(argv[2], "r");
    if (!in) {
        perror("bench-floor: open");
        return 2;
    }

    posix_spawnattr_t attr;
    if (posix_spawnattr_init(&attr) != 0 ||
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP) != 0 ||
        posix_spawnattr_setpgroup(&attr, 0) != 0) {
        fprintf(stderr, "bench-floor: posix_spawnattr setup failed\n");
        return 2;
    }

    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long running = 0, started = 0, failed = 0;
    while ((len = getline(&line, &cap, in)) >= 0) {
        if (len > 0 && line[len - 1] == '\n')
            line[--len] = '\0';
        if (len == 0)
            continue;
        if (running >= slots)
            running -= reap(&failed);
        char *args[] = {"bash", "-o", "pipefail", "-c", line, NULL};
        pid_t pid;
        int rc = posix_spawn(&pid, "/bin/bash", NULL, &attr, args, environ);
        if (rc != 0) {
            fprintf(stderr, "bench-floor: posix_spawn: %s\n", strerror(rc));
            failed++;
            continue;
        }
        running++;
        started++;
    }
    if (ferror(in)) {
        perror("bench-floor: read");
        return 2;
    }
    while (running > 0)
        running -= reap(&failed);

    free(line);
    fclose(in);
    posix_spawnattr_destroy(&attr);
    fprintf(stderr, "bench-floor: %ld started, %ld failed\n", started, failed);
    return failed ? 1 : 0;
}
