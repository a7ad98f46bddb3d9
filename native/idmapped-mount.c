/*
 * nimbus-idmapped-mount [--reverse] SOURCE TARGET HOST-ID COUNT [PID]
 *
 * Attaches at TARGET a clone of the mount at SOURCE whose ids 0..COUNT-1 appear as
 * HOST-ID..HOST-ID+COUNT-1 (an idmapped mount, Linux 5.12+): an instance's user namespace maps its
 * root to HOST-ID, so an image's or a volume's root-owned files are its root's without a chown.
 * util-linux learnt this as `mount -o X-mount.idmap` only in 2.39, after the Debian release we
 * run on, hence this small tool. TARGET is in the caller's mount namespace, or with PID in that
 * process's (an instance's init: a volume attached while it runs), made there if missing.
 * --reverse maps the other way: HOST-ID.. on disk appear as 0.. (an instance's root volume read
 * as an image's files, when an image is made from it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/mount.h>

#ifndef SYS_open_tree
#define SYS_open_tree 428
#endif
#ifndef SYS_move_mount
#define SYS_move_mount 429
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif
#ifndef MOUNT_ATTR_IDMAP
#define MOUNT_ATTR_IDMAP 0x00100000
struct mount_attr { uint64_t attr_set, attr_clr, propagation, userns_fd; };
#endif

static void die(const char *what) {
  fprintf(stderr, "nimbus-idmapped-mount: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) die(path);
  close(fd);
}

/* A user namespace mapping 0..count-1 to host_id..: made by a child that waits while it is used. */
static int user_namespace(unsigned long host_id, unsigned long count, int reverse, pid_t *child) {
  int ready[2], hold[2];
  char c = 0, path[64], map[64];
  if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0) die("pipe");
  *child = fork();
  if (*child < 0) die("fork");
  if (*child == 0) {
    close(ready[0]);
    close(hold[1]);
    if (unshare(CLONE_NEWUSER) < 0) _exit(1);
    if (write(ready[1], &c, 1) != 1) _exit(1);
    (void)read(hold[0], &c, 1); /* until the parent closes its end */
    _exit(0);
  }
  close(ready[1]);
  close(hold[0]);
  if (read(ready[0], &c, 1) != 1) { errno = ECHILD; die("user namespace"); }
  if (reverse) snprintf(map, sizeof map, "%lu 0 %lu\n", host_id, count);
  else snprintf(map, sizeof map, "0 %lu %lu\n", host_id, count);
  snprintf(path, sizeof path, "/proc/%d/uid_map", (int)*child);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/setgroups", (int)*child);
  write_file(path, "deny\n");
  snprintf(path, sizeof path, "/proc/%d/gid_map", (int)*child);
  write_file(path, map);
  snprintf(path, sizeof path, "/proc/%d/ns/user", (int)*child);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(path);
  close(hold[1]);
  return fd;
}

static unsigned long number(const char *s, const char *what) {
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *s == '\0' || *end != '\0' || v > 0xfffffffeUL) {
    fprintf(stderr, "nimbus-idmapped-mount: bad %s: %s\n", what, s);
    exit(2);
  }
  return v;
}

int main(int argc, char **argv) {
  int reverse = argc > 1 && strcmp(argv[1], "--reverse") == 0;
  if (reverse) { argv++; argc--; }
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: nimbus-idmapped-mount [--reverse] SOURCE TARGET HOST-ID COUNT [PID]\n");
    return 2;
  }
  unsigned long host_id = number(argv[3], "host id"), count = number(argv[4], "count");
  if (count == 0 || host_id + count - 1 > 0xfffffffeUL) { fprintf(stderr, "nimbus-idmapped-mount: id range out of bounds\n"); return 2; }
  pid_t child;
  int userns = user_namespace(host_id, count, reverse, &child);
  int tree = (int)syscall(SYS_open_tree, AT_FDCWD, argv[1], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) die("open_tree");
  struct mount_attr attr = { .attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns };
  if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) die("mount_setattr");
  if (argc == 6) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%lu/ns/mnt", number(argv[5], "pid"));
    int mntns = open(path, O_RDONLY | O_CLOEXEC);
    if (mntns < 0) die(path);
    /* Also moves root and cwd to the namespace's root: TARGET is then a path inside the instance. */
    if (setns(mntns, CLONE_NEWNS) < 0) die("setns");
    if (mkdir(argv[2], 0755) == 0) {
      if (chown(argv[2], (uid_t)host_id, (gid_t)host_id) < 0) die(argv[2]); /* the instance's root's, as if it had made it */
    } else if (errno != EEXIST) die(argv[2]);
  }
  if (syscall(SYS_move_mount, tree, "", AT_FDCWD, argv[2], MOVE_MOUNT_F_EMPTY_PATH) < 0) die("move_mount");
  waitpid(child, NULL, 0);
  return 0;
}
