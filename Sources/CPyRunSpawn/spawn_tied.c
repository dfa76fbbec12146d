// Fork and exec with a parent-death signal: see pyrun_spawn.h. Between fork and exec the
// child calls only async-signal-safe functions, as a child of a multithreaded process must.

#define _GNU_SOURCE
#include "pyrun_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

/// Closes every descriptor from `low` (above 2) up, but `keep`.
static void close_from(int low, int keep, long open_max) {
#if defined(__linux__) && defined(SYS_close_range)
    int below_done = keep <= low || syscall(SYS_close_range, (unsigned)low, (unsigned)(keep - 1), 0) == 0;
    if (below_done && syscall(SYS_close_range, (unsigned)(keep < low ? low : keep + 1), ~0U, 0) == 0) return;
#endif
    for (long fd = low; fd < open_max; fd++) {
        if (fd != keep) close((int)fd);
    }
}

/// A pipe with both ends close-on-exec from the start where the system can (pipe2).
static int close_on_exec_pipe(int ends[2]) {
#ifdef __linux__
    return pipe2(ends, O_CLOEXEC);
#else
    if (pipe(ends) != 0) return -1;
    fcntl(ends[0], F_SETFD, FD_CLOEXEC);
    fcntl(ends[1], F_SETFD, FD_CLOEXEC);
    return 0;
#endif
}

/// `fd` moved to a number above 2, so that the dup2 calls below cannot overwrite it.
static int above_standard(int fd) {
    return fd > 2 ? fd : fcntl(fd, F_DUPFD, 3);
}

static void report_and_exit(int report, int error) {
    ssize_t written;
    do {
        written = write(report, &error, sizeof error);
    } while (written < 0 && errno == EINTR);
    _exit(127);
}

int pyrun_spawn_tied(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                     int stderr_fd, int parent_death_signal, pid_t *pid) {
    int report[2];
    if (close_on_exec_pipe(report) != 0) return errno;
    long open_max = sysconf(_SC_OPEN_MAX);
    if (open_max < 0 || open_max > 65536) open_max = 65536;
    pid_t parent = getpid();

    // No handler of the host may run in the child before the dispositions are reset.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &previous);
    pid_t child = fork();
    if (child == 0) {
        for (int signal_number = 1; signal_number < NSIG; signal_number++) {
            struct sigaction action;
            memset(&action, 0, sizeof action);
            action.sa_handler = SIG_DFL;
            sigaction(signal_number, &action, NULL);  // fails harmlessly for KILL, STOP and reserved ones
        }
        if (setsid() < 0) report_and_exit(report[1], errno);
#ifdef __linux__
        if (parent_death_signal > 0) {
            if (prctl(PR_SET_PDEATHSIG, parent_death_signal, 0, 0, 0) != 0) report_and_exit(report[1], errno);
            // The parent may have died before the request: then nothing would send it.
            if (getppid() != parent) _exit(127);
        }
#endif
        int in = above_standard(stdin_fd), out = above_standard(stdout_fd), err = above_standard(stderr_fd);
        if (in < 0 || out < 0 || err < 0) report_and_exit(report[1], errno);
        if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) report_and_exit(report[1], errno);
        close_from(3, report[1], open_max);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        execve(path, argv, envp);
        report_and_exit(report[1], errno);
    }
    int fork_error = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    close(report[1]);
    if (child < 0) {
        close(report[0]);
        return fork_error;
    }
    // End of file: the exec succeeded (the pipe closed on exec). An errno: it failed.
    int child_error = 0;
    ssize_t got;
    do {
        got = read(report[0], &child_error, sizeof child_error);
    } while (got < 0 && errno == EINTR);
    close(report[0]);
    if (got == (ssize_t)sizeof child_error) {
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR) {
        }
        return child_error != 0 ? child_error : ECHILD;
    }
    *pid = child;
    return 0;
}
