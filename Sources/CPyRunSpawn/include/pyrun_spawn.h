#ifndef PYRUN_SPAWN_H
#define PYRUN_SPAWN_H

#include <sys/types.h>

/// Starts `path` with `argv` and `envp` as a child tied to the life of its parent.
///
/// The child gets `stdin_fd`, `stdout_fd` and `stderr_fd` as its descriptors 0, 1 and 2 and no
/// other descriptor, leads a session of its own, has every signal at its default action and
/// none blocked, and (Linux) receives `parent_death_signal` when the thread that called this
/// function ends. That is what `posix_spawn` cannot give: a launcher such as `ssh` that must
/// not outlive a host killed outright.
///
/// Call it from a thread that lives as long as the process: Linux sends the parent-death
/// signal when the spawning *thread* exits.
///
/// Returns 0 and stores the child's pid in `pid`, or returns an `errno` value (from `fork`, or
/// from the child's `execve`, in which case no child is left).
int pyrun_spawn_tied(const char *path, char *const argv[], char *const envp[], int stdin_fd, int stdout_fd,
                     int stderr_fd, int parent_death_signal, pid_t *pid);

#endif
