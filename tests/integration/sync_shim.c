// LD_PRELOAD shim for hub/durability-sync: logs, in the hub process, every write to a RocksDB WAL
// file (*.log under WEBIM_SHIM_DIR) with the publish markers found in the written bytes, and every
// fdatasync/fsync of such a file (start and end). Each event gets a global order number (an atomic
// counter, so events of the same process are ordered exactly) and a CLOCK_MONOTONIC timestamp (the
// same clock the test client reads, so events can be ordered against the client's receive times).
//
//   W <order> <mono_ns> <fd> <marker>...     a write that completed (markers: "dsync-<digits>")
//   S <order> <mono_ns> <fd> <call>          a sync is about to start
//   E <order> <mono_ns> <fd> <call> <rc>     the sync returned
//
// WEBIM_SHIM_LOG: the log file (required). WEBIM_SHIM_DIR: only files under it count.
// WEBIM_SHIM_SYNC_DELAY_US: sleep this long inside every WAL sync, before the real call, so an ack
// sent before its sync completes would reach the client before the sync's end is logged.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void*, size_t);
static ssize_t (*real_pwrite)(int, const void*, size_t, off_t);
static ssize_t (*real_pwrite64)(int, const void*, size_t, off64_t);
static ssize_t (*real_writev)(int, const struct iovec*, int);
static int (*real_fdatasync)(int);
static int (*real_fsync)(int);
static int logFd = -1;
static const char* dir;
static size_t dirLen;
static long delayUs;
static atomic_ulong order;

__attribute__((constructor)) static void shimInit(void) {
  real_write = dlsym(RTLD_NEXT, "write");
  real_pwrite = dlsym(RTLD_NEXT, "pwrite");
  real_pwrite64 = dlsym(RTLD_NEXT, "pwrite64");
  real_writev = dlsym(RTLD_NEXT, "writev");
  real_fdatasync = dlsym(RTLD_NEXT, "fdatasync");
  real_fsync = dlsym(RTLD_NEXT, "fsync");
  const char* path = getenv("WEBIM_SHIM_LOG");
  dir = getenv("WEBIM_SHIM_DIR");
  dirLen = dir ? strlen(dir) : 0;
  const char* delay = getenv("WEBIM_SHIM_SYNC_DELAY_US");
  delayUs = delay ? atol(delay) : 0;
  if (path) logFd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

static uint64_t monoNs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// A WAL file of the watched directory?
static int isWal(int fd) {
  if (logFd < 0 || fd == logFd || fd < 0 || dirLen == 0) return 0;
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n <= 4) return 0;
  target[n] = '\0';
  return strncmp(target, dir, dirLen) == 0 && strcmp(target + n - 4, ".log") == 0;
}

static void emit(const char* line, size_t len) {
  if (logFd >= 0 && real_write) real_write(logFd, line, len);  // O_APPEND: one write is one line
}

// Appends every "dsync-<digits>" found in buf to line.
static size_t scanMarkers(const char* buf, size_t len, char* line, size_t at, size_t cap) {
  static const char kMarker[] = "dsync-";
  const size_t m = sizeof kMarker - 1;
  for (size_t i = 0; i + m < len && at + 40 < cap; ++i) {
    if (buf[i] != 'd' || memcmp(buf + i, kMarker, m) != 0) continue;
    size_t j = i + m;
    if (j >= len || buf[j] < '0' || buf[j] > '9') continue;
    line[at++] = ' ';
    for (size_t k = i; k < j && at < cap - 2; ++k) line[at++] = buf[k];
    while (j < len && buf[j] >= '0' && buf[j] <= '9' && at < cap - 2) line[at++] = buf[j++];
    i = j - 1;
  }
  return at;
}

static void logWrite(int fd, const struct iovec* iov, int iovcnt, ssize_t rc) {
  if (rc <= 0) return;
  char line[65536];
  unsigned long o = atomic_fetch_add(&order, 1);
  size_t at = (size_t)snprintf(line, sizeof line, "W %lu %llu %d", o, (unsigned long long)monoNs(), fd);
  size_t left = (size_t)rc;
  for (int i = 0; i < iovcnt && left > 0; ++i) {
    size_t n = iov[i].iov_len < left ? iov[i].iov_len : left;
    at = scanMarkers(iov[i].iov_base, n, line, at, sizeof line);
    left -= n;
  }
  line[at++] = '\n';
  emit(line, at);
}

ssize_t write(int fd, const void* buf, size_t count) {
  ssize_t rc = real_write(fd, buf, count);
  if (isWal(fd)) {
    struct iovec v = {(void*)buf, count};
    logWrite(fd, &v, 1, rc);
  }
  return rc;
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t off) {
  ssize_t rc = real_pwrite(fd, buf, count, off);
  if (isWal(fd)) {
    struct iovec v = {(void*)buf, count};
    logWrite(fd, &v, 1, rc);
  }
  return rc;
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t off) {
  ssize_t rc = real_pwrite64(fd, buf, count, off);
  if (isWal(fd)) {
    struct iovec v = {(void*)buf, count};
    logWrite(fd, &v, 1, rc);
  }
  return rc;
}

ssize_t writev(int fd, const struct iovec* iov, int iovcnt) {
  ssize_t rc = real_writev(fd, iov, iovcnt);
  if (isWal(fd)) logWrite(fd, iov, iovcnt, rc);
  return rc;
}

static int syncCall(int fd, int (*real)(int), const char* name) {
  if (!isWal(fd)) return real(fd);
  char line[256];
  int n = snprintf(line, sizeof line, "S %lu %llu %d %s\n", atomic_fetch_add(&order, 1),
                   (unsigned long long)monoNs(), fd, name);
  emit(line, (size_t)n);
  if (delayUs > 0) usleep((useconds_t)delayUs);
  int rc = real(fd);
  n = snprintf(line, sizeof line, "E %lu %llu %d %s %d\n", atomic_fetch_add(&order, 1),
               (unsigned long long)monoNs(), fd, name, rc);
  emit(line, (size_t)n);
  return rc;
}

int fdatasync(int fd) { return syncCall(fd, real_fdatasync, "fdatasync"); }
int fsync(int fd) { return syncCall(fd, real_fsync, "fsync"); }
