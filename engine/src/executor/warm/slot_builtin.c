/*
 * hs_warm: a bash loadable builtin that turns a bash started as `bash -o pipefail -c
 * 'enable -f LIB hs_warm'` into a slot shell for hs's warm executor.
 *
 * Its load function never returns while the engine is there: it reads task requests from the
 * socket the engine gave the shell as stdin and starts each task in a child cloned with
 * CLONE_PARENT, so the task is the engine's own child (the engine waits for it and signals its
 * group as it does for a bash it spawned itself) and the slot shell goes straight back to
 * reading. The child then makes itself look like a bash that has just started with the task's
 * `-c` string ($$, BASH_SUBSHELL, SECONDS, RANDOM, PWD, the task's variables,
 * BASH_EXECUTION_STRING) and runs the command the way bash's own `-c` path does.
 *
 * Because the loop runs inside `enable`, before the builtin is even added to the shell's table,
 * a task's shell has executed nothing of its own: no variable, `$_`, `$?` or PIPESTATUS of the
 * slot is left for the task to see.
 *
 * The declarations below are bash's (5.2) internal interfaces, which bash exports for loadable
 * builtins; the engine checks the version first (see `version_supported`). The library is linked
 * with -z now, so a bash without one of these symbols refuses to load it instead of failing on
 * first use.
 *
 * Wire format (engine -> slot shell, native byte order), one request per task:
 *   u32 length of what follows; u32 flags (bit 0: a working directory is given);
 *   u32 command length; u32 directory length; u32 variable count;
 *   the command, NUL; the directory, NUL; each variable as NAME=VALUE, NUL.
 * The task's stdout and stderr descriptors travel with the first byte (SCM_RIGHTS), and, where the
 * engine has a cgroup for the slot, that cgroup's directory as a third: the child is cloned
 * straight into it (CLONE_INTO_CGROUP, or it writes itself into cgroup.procs on a kernel before
 * 5.7), so nothing the task starts can leave it.
 *
 * Every task, and the slot shell itself, asks for SIGKILL when the engine dies
 * (PR_SET_PDEATHSIG): the engine starts slot shells from a thread that lives as long as it does,
 * and that thread is the parent of the tasks too (CLONE_PARENT).
 * Replies (-> engine), two per started task, in either order: the slot shell's (i32 pid, i32 -1:
 * cloned) and the task's own (i32 pid, i32 errno, 0: set up and running), which never comes if
 * the task is killed first (the engine then sees it exit). One reply if nothing started: the slot
 * shell's (i32 -1, i32 errno).
 * Ready message, once, after loading: u32 HS_WARM_MAGIC, i32 pid of the slot shell.
 */

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

/* --- bash's side ------------------------------------------------------------------------- */

typedef struct word_list WORD_LIST;
typedef int sh_builtin_func_t(WORD_LIST *);

struct builtin {
    char *name;
    sh_builtin_func_t *function;
    int flags;
    char *const *long_doc;
    const char *short_doc;
    char *handle;
};
#define BUILTIN_ENABLED 0x01

typedef struct variable {
    char *name;
    char *value;
    char *exportstr;
    void *dynamic_value;
    void *assign_func;
    int attributes;
    int context;
} SHELL_VAR;
#define att_exported 0x0000001
#define att_imported 0x0008000

/* Codes bash longjmps to its top level with (shell.h). */
#define FORCE_EOF 1
#define DISCARD 2
#define EXITPROG 3
#define ERREXIT 4
#define EXITBLTIN 6

/* parse_and_execute flags, as bash's own `-c` path passes them (builtins/common.h). */
#define SEVAL_NOHIST 0x004
#define SEVAL_RESETLINE 0x010

extern pid_t dollar_dollar_pid;
extern int subshell_level;
extern time_t shell_start_time;
extern struct timeval shellstart;
extern int parse_and_execute_level;
extern int last_command_exit_value;
extern int executing_builtin;
extern sh_builtin_func_t *this_shell_builtin;
extern sh_builtin_func_t *last_shell_builtin;
extern int array_needs_making;
extern char *the_current_working_directory;
extern pid_t shell_pgrp;
extern sigjmp_buf top_level;
extern const char *const dist_version;

extern SHELL_VAR *bind_variable(const char *, char *, int);
extern void remember_args(WORD_LIST *, int);
extern void set_dollar_vars_unchanged(void);
extern void seedrand(void);
extern void set_pwd(void);
extern int parse_and_execute(char *, const char *, int);
extern void exit_shell(int) __attribute__((noreturn));
extern void unlink_fifo_list(void);
extern void *xmalloc(size_t);

/* --- the slot shell ---------------------------------------------------------------------- */

#define HS_WARM_MAGIC 0x31575348u /* "HSW1" */
/* Where the engine's socket is kept, away from the descriptors a task gets. */
#define SOCKET_FLOOR 64
/* A request larger than this is refused (the engine never sends one). */
#define MAX_REQUEST (256u * 1024 * 1024)

/* The slot shell's argument strings (what /proc/PID/cmdline shows), found at load time: a task
 * writes its own `bash -o pipefail -c CMD` there, so ps and pgrep -f see a task as they would
 * a fresh bash. The engine pads the slot shell's arguments to make room. */
static char *title_start;
static size_t title_len;

/* The engine's pid: a task whose parent is not this any more was cloned as the engine died. */
static pid_t engine_pid;

#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#define HS_CLONE_INTO_CGROUP 0x200000000ULL
/* struct clone_args of Linux 5.7 (linux/sched.h), spelled out for older headers. */
struct hs_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls, set_tid,
        set_tid_size, cgroup;
};

struct request {
    char *buf;
    const char *command;
    const char *cwd; /* NULL: the slot shell's (the engine's) directory */
    uint32_t nvars;
    const char *vars; /* nvars NUL-terminated NAME=VALUE strings */
    int out, err;
    int cgroup; /* the slot's cgroup directory, or -1 */
};

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int read_all(int fd, void *data, size_t len)
{
    char *p = data;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The slot shell's reply for a task it cloned (the task sends its own). */
#define HS_CLONED (-1)

static void reply(int sock, pid_t pid, int error)
{
    int32_t msg[2] = {pid, error};
    (void)write_all(sock, msg, sizeof msg);
}

/* Reads the length word with the task's two descriptors, then the rest. 0 on success, -1 at
 * end of input or on a malformed request (the slot shell then exits; the engine starts
 * another). */
static int read_request(int sock, struct request *req)
{
    uint32_t len;
    char control[CMSG_SPACE(3 * sizeof(int))];
    struct iovec iov = {&len, sizeof len};
    struct msghdr msg = {0};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n;
    do
        n = recvmsg(sock, &msg, MSG_WAITALL | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof len)
        return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (c == NULL || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
        return -1;
    int fds[3] = {-1, -1, -1};
    if (c->cmsg_len == CMSG_LEN(3 * sizeof(int)))
        memcpy(fds, CMSG_DATA(c), 3 * sizeof(int));
    else if (c->cmsg_len == CMSG_LEN(2 * sizeof(int)))
        memcpy(fds, CMSG_DATA(c), 2 * sizeof(int));
    else
        return -1;
    req->out = fds[0];
    req->err = fds[1];
    req->cgroup = fds[2];
    if (len < 16 || len > MAX_REQUEST)
        goto bad;
    req->buf = malloc(len);
    if (req->buf == NULL || read_all(sock, req->buf, len) != 0)
        goto bad;
    uint32_t head[4];
    memcpy(head, req->buf, sizeof head);
    uint64_t need = 16 + (uint64_t)head[1] + 1 + head[2] + 1;
    if (need > len || req->buf[16 + head[1]] != '\0' ||
        req->buf[16 + head[1] + 1 + head[2]] != '\0' || req->buf[len - 1] != '\0')
        goto bad;
    req->command = req->buf + 16;
    req->cwd = (head[0] & 1) ? req->buf + 16 + head[1] + 1 : NULL;
    req->nvars = head[3];
    req->vars = req->buf + need;
    /* Every variable must lie inside the buffer. */
    const char *p = req->vars, *end = req->buf + len;
    for (uint32_t i = 0; i < req->nvars; i++) {
        const char *nul = memchr(p, '\0', (size_t)(end - p));
        if (nul == NULL || memchr(p, '=', (size_t)(nul - p)) == NULL)
            goto bad;
        p = nul + 1;
    }
    return 0;
bad:
    free(req->buf);
    close(req->out);
    close(req->err);
    if (req->cgroup >= 0)
        close(req->cgroup);
    return -1;
}

/* Reads arg_start and arg_end of this process (fields 48 and 49 of /proc/self/stat). */
static void find_title(void)
{
    char buf[4096];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (p == NULL)
        return;
    unsigned long start = 0, end = 0;
    /* p + 2 is field 3 (the state); field 48 is 45 fields further. */
    char *save = NULL, *tok = strtok_r(p + 2, " ", &save);
    for (int field = 3; tok != NULL && field <= 49; field++, tok = strtok_r(NULL, " ", &save)) {
        if (field == 48)
            start = strtoul(tok, NULL, 10);
        else if (field == 49)
            end = strtoul(tok, NULL, 10);
    }
    if (start != 0 && end > start && (char *)start == program_invocation_name) {
        title_start = (char *)start;
        title_len = end - start;
    }
}

/* Writes `bash -o pipefail -c COMMAND` over the argument strings (cut to fit, the rest NUL). */
static void set_title(const char *command)
{
    static const char prefix[] = "bash\0-o\0pipefail\0-c";
    if (title_start == NULL || title_len < sizeof prefix + 1)
        return;
    memset(title_start, 0, title_len);
    memcpy(title_start, prefix, sizeof prefix);
    size_t room = title_len - sizeof prefix - 1, len = strlen(command);
    memcpy(title_start + sizeof prefix, command, len < room ? len : room);
}

/* Makes the freshly cloned child look like a bash that has just started with the task's
 * environment, then runs the command as bash's `-c` path does (shell.c: run_one_command and
 * the exit_shell after it). Never returns. */
static void run_task(int sock, struct request *req, int in_cgroup) __attribute__((noreturn));
static void run_task(int sock, struct request *req, int in_cgroup)
{
    pid_t self = getpid();
    /* Own group first: once the engine has the pid it may signal the group. */
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != engine_pid)
        _exit(127);
    if (!in_cgroup && req->cgroup >= 0) {
        int procs = openat(req->cgroup, "cgroup.procs", O_WRONLY | O_CLOEXEC);
        if (procs >= 0) {
            (void)write_all(procs, "0", 1);
            close(procs);
        }
    }
    if (dup2(req->out, 1) != 1 || dup2(req->err, 2) != 2) {
        reply(sock, self, errno ? errno : EBADF);
        _exit(127);
    }
    if (req->cwd != NULL && chdir(req->cwd) != 0) {
        reply(sock, self, errno ? errno : ENOENT);
        _exit(127);
    }
    reply(sock, self, 0);
    /* Nothing but stdin, stdout and stderr is left open, as after bash's exec. */
    if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
        for (int fd = 3; fd < 1024; fd++)
            close(fd);

    set_title(req->command);
    /* No positional parameters (the slot shell's only one is the room for that title). */
    remember_args(NULL, 1);
    set_dollar_vars_unchanged();
    dollar_dollar_pid = self;
    shell_pgrp = self;
    subshell_level = 0;
    gettimeofday(&shellstart, NULL);
    shell_start_time = shellstart.tv_sec;
    seedrand();

    /* The task's own variables, imported as bash imports its environment. (The engine only
     * sends names bash gives no meaning of its own; see warm/request.rs.) */
    const char *p = req->vars;
    for (uint32_t i = 0; i < req->nvars; i++) {
        size_t len = strlen(p);
        char *entry = xmalloc(len + 1);
        memcpy(entry, p, len + 1);
        char *eq = strchr(entry, '=');
        *eq = '\0';
        SHELL_VAR *v = bind_variable(entry, eq + 1, 0);
        if (v != NULL)
            v->attributes |= att_exported | att_imported;
        free(entry);
        p += len + 1;
    }
    array_needs_making = 1;
    if (req->cwd != NULL) {
        /* bash's start-up rule for PWD, now in the task's directory. */
        free(the_current_working_directory);
        the_current_working_directory = NULL;
        set_pwd();
    }
    bind_variable("BASH_EXECUTION_STRING", (char *)req->command, 0);

    size_t clen = strlen(req->command);
    char *command = xmalloc(clen + 1);
    memcpy(command, req->command, clen + 1);
    free(req->buf);

    /* What a bash running its first command has: no builtin executing, no nested eval. */
    executing_builtin = 0;
    this_shell_builtin = NULL;
    last_shell_builtin = NULL;
    parse_and_execute_level = 0;
    last_command_exit_value = 0;

    int code = sigsetjmp(top_level, 0);
    if (code != 0) {
        unlink_fifo_list();
        if (code == FORCE_EOF)
            last_command_exit_value = 127;
        else if (code == DISCARD)
            last_command_exit_value = 1;
        exit_shell(last_command_exit_value);
    }
    parse_and_execute(command, "-c", SEVAL_NOHIST | SEVAL_RESETLINE);
    exit_shell(last_command_exit_value);
}

/* The slot shell's loop: one request, one child, until the engine closes the socket. */
static void serve(int sock) __attribute__((noreturn));
static void serve(int sock)
{
    for (;;) {
        struct request req;
        if (read_request(sock, &req) != 0)
            _exit(0);
        pid_t pid = -1;
        int in_cgroup = 0;
        if (req.cgroup >= 0) {
            struct hs_clone_args args = {0};
            /* With CLONE_PARENT clone3 wants no exit signal of its own: the child gets the
             * slot shell's, SIGCHLD, as with clone. */
            args.flags = CLONE_PARENT | HS_CLONE_INTO_CGROUP;
            args.exit_signal = 0;
            args.cgroup = (uint64_t)req.cgroup;
            pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
            in_cgroup = pid >= 0;
        }
        if (!in_cgroup)
            pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
        if (pid == 0)
            run_task(sock, &req, in_cgroup);
        if (pid < 0)
            reply(sock, -1, errno);
        else
            reply(sock, pid, HS_CLONED);
        close(req.out);
        close(req.err);
        if (req.cgroup >= 0)
            close(req.cgroup);
        free(req.buf);
    }
}

static int version_supported(void)
{
    return dist_version != NULL && strncmp(dist_version, "5.2", 3) == 0;
}

/* Called by `enable -f`. Returns only when the shell cannot be a slot shell; bash then prints
 * its own line ("load function for hs_warm returns failure") after ours. */
int hs_warm_builtin_load(char *name)
{
    (void)name;
    if (!version_supported()) {
        fprintf(stderr, "hs_warm: bash %s is not supported (5.2 is)\n",
                dist_version ? dist_version : "?");
        return 0;
    }
    find_title();
    engine_pid = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (getppid() != engine_pid)
        return 0;
    int sock = fcntl(0, F_DUPFD_CLOEXEC, SOCKET_FLOOR);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (sock < 0 || null < 0 || dup2(null, 0) != 0 || dup2(null, 1) != 1) {
        perror("hs_warm: preparing descriptors");
        return 0;
    }
    uint32_t ready[2] = {HS_WARM_MAGIC, (uint32_t)getpid()};
    if (write_all(sock, ready, sizeof ready) != 0) {
        perror("hs_warm: ready message");
        return 0;
    }
    dup2(null, 2);
    close(null);
    serve(sock);
}

static int hs_warm_builtin(WORD_LIST *list)
{
    (void)list;
    return 1;
}

static char *hs_warm_doc[] = {"Internal to hs: serves task requests from the engine.", NULL};

struct builtin hs_warm_struct = {
    "hs_warm", hs_warm_builtin, BUILTIN_ENABLED, hs_warm_doc, "hs_warm", 0,
};
