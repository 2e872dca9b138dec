/*
 * drydock-logger: owns the read ends of one container run's stdout/stderr FIFOs
 * and appends framed records to the container's log file. One process per run,
 * started detached by containerd-supervisor before Tasks.Create, and meant to
 * outlive the supervisor: output is neither lost nor blocked while the
 * supervisor is dead, and the last lines of a container that exits meanwhile
 * are still written.
 *
 * Usage:
 *   drydock-logger --log FILE --stdout FIFO [--stderr FIFO]
 *                  [--stdin FIFO [--hold-stdin]] [--mkfifo]
 *                  [--ready-fd N] [--arm-timeout-ms MS] [--armed]
 *                  [--pipe-size BYTES] [--lock-wait-ms MS]
 *
 *   --log FILE          log file, opened O_WRONLY|O_APPEND|O_CREAT, mode 0640.
 *   --stdout/--stderr   FIFOs the shim writes into (--stderr absent for a TTY).
 *   --stdin FIFO        the container's stdin FIFO (only created by --mkfifo,
 *                       never read).
 *   --hold-stdin        keep --stdin open O_RDWR for the logger's lifetime, so
 *                       the container does not see EOF on stdin when the last
 *                       client writer (the supervisor) goes away (docker run -di).
 *                       Closing the container's stdin on purpose is Tasks.CloseIO.
 *   --mkfifo            create missing FIFOs (mode 0600); saves a process spawn.
 *   --ready-fd N        when every FIFO has its reader open, write the byte 0x01
 *                       to fd N and close it. On a startup failure the error
 *                       text (never starting with 0x01) is written there instead
 *                       and the logger exits 2.
 *   --arm-timeout-ms MS drop the dummy writers by itself after MS ms (default
 *                       30000; 0 = only on SIGUSR1). See "End of a run" below.
 *   --armed             start armed (no dummy writers): re-attaching a logger to
 *                       the FIFOs of a task whose shim writer is already open.
 *   --pipe-size BYTES   F_SETPIPE_SZ on each output FIFO (burst headroom so a
 *                       container is not slowed while the disk stalls).
 *   --lock-wait-ms MS   how long to wait for the previous run's logger to
 *                       release its lock on FILE (default 2000), see below.
 *
 * Signals: SIGUSR1 = arm. SIGTERM = drain what is readable now, write the EOF
 * record, exit 0. SIGPIPE, SIGHUP, SIGINT are ignored. The logger calls
 * setsid() itself unless it already leads a session (node's detached spawn
 * does that for it).
 *
 * Exit status: 0 after the EOF record; 2 on a startup error; 1 when output
 * was dropped (log file unwritable) and not even the LOST note could be written.
 *
 * Record format (little-endian, 16-byte header, then the payload):
 *   u8 magic 0xD7 | u8 stream (0 control, 1 stdout, 2 stderr) | u8 flags |
 *   u8 reserved 0 | u32 payload length | u64 CLOCK_REALTIME ns at read time
 *   flags: bit0 PARTIAL (payload does not end a line; the next record of the
 *   same stream continues it), bit1 EOF (control: the run ended, empty
 *   payload), bit2 LOST (control: payload is a text note about bytes dropped
 *   because the log file could not be written).
 * A '\n'-terminated line is one record (payload includes the '\n'). Bytes after
 * the last newline of a read are written at once as a PARTIAL record so that
 * prompts show up without waiting; lines longer than 16 KiB are cut into
 * PARTIAL records of 16 KiB, as Docker does. Records are written with writev()
 * and never split across calls (except by an error, which we truncate away),
 * so a concurrent reader only ever sees a torn record at the very end.
 *
 * End of a run. A non-blocking FIFO reader sees read()==0 whenever no writer is
 * open, including before the shim opened its write end, so EOF alone cannot
 * tell "not started yet" from "finished". The logger therefore opens a dummy
 * writer on each output FIFO right after its reader and keeps it until it is
 * armed. containerd's shim opens its writer (a blocking open, done in
 * Tasks.Create via containerd/fifo) before Create returns, so the supervisor
 * arms the logger (SIGUSR1) after Create succeeded, or SIGTERMs it if Create
 * failed. From then on read()==0 means the shim closed its writer: the process
 * exited and its output is fully in the pipe, which we drain before writing the
 * EOF record. If the supervisor dies between Create and arming, the logger arms
 * itself after --arm-timeout-ms (by then the shim's writer has long been open;
 * containerd's own open times out after 30 s); if it died before Create, the
 * self-arm makes the logger see EOF and exit instead of lingering. Output
 * written before arming is never lost: while the dummy writer is open the
 * pipe stays alive and we keep reading it.
 *
 * Restarts. A restarted container appends to the same log with a new logger.
 * Each logger holds flock(LOCK_EX) on the log for its life and takes it before
 * its first write, so the previous run's trailing lines and EOF record always
 * precede the next run's records. The wait is bounded (--lock-wait-ms): by the
 * time the supervisor starts a new task the old one was deleted, which closed
 * the shim's writers, so the old logger only drains what is left in its pipes.
 *
 * Memory: one 64 KiB read buffer and a header array; no heap after startup.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAGIC 0xD7
#define STREAM_CONTROL 0
#define FLAG_PARTIAL 0x01
#define FLAG_EOF 0x02
#define FLAG_LOST 0x04
#define HDR 16
#define MAX_RECORD (16 * 1024)  /* Docker cuts lines at 16 KiB too */
#define BUF_SIZE (64 * 1024)    /* one default pipe buffer per read */
#define BATCH 256               /* records per writev: 2 iovecs each, < IOV_MAX */
#define READS_PER_TURN 16       /* fairness between stdout and stderr */

struct stream {
  const char *path;
  int id;      /* 1 stdout, 2 stderr */
  int fd;      /* reader, -1 once at EOF */
  int dummy;   /* dummy writer while unarmed, else -1 */
};

static struct stream streams[2];
static int nstreams;
static int log_fd = -1;
static unsigned long long lost_bytes;
static int lost_errno;

static unsigned char buf[BUF_SIZE];
static unsigned char hdrs[BATCH][HDR];
static struct iovec iov[BATCH * 2];
static int nrec;

static int ready_fd = -1;

static void put_u32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Startup failure: tell the spawner through the ready fd, then exit 2. */
static void fail(const char *what, const char *path, int err) {
  char msg[1024];
  int n = snprintf(msg, sizeof msg, "drydock-logger: %s %s: %s", what, path ? path : "", err ? strerror(err) : "invalid");
  if (n < 0) n = 0;
  if (n >= (int)sizeof msg) n = sizeof msg - 1;
  if (ready_fd >= 0) {
    ssize_t w;
    do w = write(ready_fd, msg, (size_t)n); while (w < 0 && errno == EINTR);
  }
  fprintf(stderr, "%s\n", msg);
  exit(2);
}

static void usage_fail(const char *msg) { fail(msg, "", 0); }

/*
 * Notes dropped output in a LOST control record, ahead of the first records
 * that can be written again. Self-contained (own iovecs): the batch arrays are
 * in use by the caller. Returns -1 if the note itself could not be written.
 */
/*
 * Cuts off the `written` bytes of an incomplete record that the last write
 * left at the end of the file. With O_APPEND the file offset is the end of our
 * own write, so this stays right even if someone truncated the file meanwhile.
 */
static void cut_back(size_t written) {
  if (written == 0) return;
  off_t end = lseek(log_fd, 0, SEEK_CUR);
  if (end < (off_t)written) return;
  while (ftruncate(log_fd, end - (off_t)written) < 0 && errno == EINTR) {}
}

static int write_lost_note(void) {
  char note[160];
  unsigned char h[HDR];
  int n = snprintf(note, sizeof note, "drydock-logger: dropped %llu bytes: %s\n", lost_bytes, strerror(lost_errno));
  if (n < 0) n = 0;
  if (n >= (int)sizeof note) n = sizeof note - 1;
  h[0] = MAGIC;
  h[1] = STREAM_CONTROL;
  h[2] = FLAG_LOST;
  h[3] = 0;
  put_u32(h + 4, (uint32_t)n);
  put_u64(h + 8, now_ns());
  struct iovec v[2] = { { h, HDR }, { note, (size_t)n } };
  ssize_t w;
  do w = writev(log_fd, v, 2); while (w < 0 && errno == EINTR);
  if (w == (ssize_t)(HDR + n)) {
    lost_bytes = 0;
    return 0;
  }
  if (w > 0) cut_back((size_t)w);
  if (w < 0) lost_errno = errno;
  return -1;
}

/*
 * Writes all queued records with as few writev() calls as possible. A short
 * write (regular files only return short on error, e.g. ENOSPC mid-way) is
 * continued; if it cannot be, the file is truncated back to the last whole
 * record so that framing survives, and the bytes are counted as lost (noted in
 * a LOST control record once writing works again). Never blocks the reading
 * side longer than the write itself: a full disk drops output like Docker does
 * instead of stalling the container.
 */
static void flush(void) {
  if (nrec == 0) return;
  int cnt = nrec * 2;
  struct iovec *v = iov;
  size_t total = 0;
  for (int i = 0; i < cnt; i++) total += iov[i].iov_len;
  if (lost_bytes && write_lost_note() < 0) {
    /* Still cannot write: this batch is dropped too. */
    lost_bytes += total;
    nrec = 0;
    return;
  }
  size_t done = 0;
  while (cnt > 0) {
    ssize_t w = writev(log_fd, v, cnt);
    if (w < 0) {
      if (errno == EINTR) continue;
      lost_errno = errno;
      break;
    }
    if (w == 0) { lost_errno = EIO; break; }
    done += (size_t)w;
    size_t n = (size_t)w;
    while (cnt > 0 && n >= v->iov_len) { n -= v->iov_len; v++; cnt--; }
    if (cnt > 0) { v->iov_base = (char *)v->iov_base + n; v->iov_len -= n; }
  }
  if (done < total) {
    /* Keep only whole records. */
    size_t whole = 0;
    for (int i = 0; i < nrec; i++) {
      /* The iovecs were advanced above; the header still has the length. */
      const unsigned char *h = hdrs[i];
      size_t len = HDR + ((size_t)h[4] | (size_t)h[5] << 8 | (size_t)h[6] << 16 | (size_t)h[7] << 24);
      if (whole + len > done) break;
      whole += len;
    }
    cut_back(done - whole);
    lost_bytes += total - whole;
  }
  nrec = 0;
}

static void queue(int stream, int flags, const unsigned char *p, size_t len, uint64_t ts) {
  if (nrec == BATCH) flush();
  unsigned char *h = hdrs[nrec];
  h[0] = MAGIC;
  h[1] = (unsigned char)stream;
  h[2] = (unsigned char)flags;
  h[3] = 0;
  put_u32(h + 4, (uint32_t)len);
  put_u64(h + 8, ts);
  iov[2 * nrec].iov_base = h;
  iov[2 * nrec].iov_len = HDR;
  iov[2 * nrec + 1].iov_base = (void *)p;
  iov[2 * nrec + 1].iov_len = len;
  nrec++;
}

/*
 * Queues records for data[0..len): whole lines, 16 KiB cuts. Returns how many
 * bytes were consumed; the rest (< MAX_RECORD bytes, no newline) is left for
 * the caller to carry or emit as PARTIAL.
 */
static size_t split(int stream, const unsigned char *data, size_t len, uint64_t ts) {
  size_t off = 0;
  while (off < len) {
    const unsigned char *nl = memchr(data + off, '\n', len - off);
    size_t seg = nl ? (size_t)(nl - (data + off)) + 1 : len - off;
    while (seg > MAX_RECORD) {
      queue(stream, FLAG_PARTIAL, data + off, MAX_RECORD, ts);
      off += MAX_RECORD;
      seg -= MAX_RECORD;
    }
    if (!nl) {
      if (seg == MAX_RECORD) { queue(stream, FLAG_PARTIAL, data + off, seg, ts); off += seg; }
      return off;
    }
    queue(stream, 0, data + off, seg, ts);
    off += seg;
  }
  return off;
}

/*
 * Reads what the FIFO has now (until EAGAIN, EOF or the fairness budget) and
 * appends it. A trailing partial line is only carried into the next read when
 * the read filled the buffer (more is probably queued); otherwise it is
 * written at once as PARTIAL. Returns 1 when the stream reached EOF.
 */
static int drain(struct stream *s) {
  size_t have = 0;
  int reads = 0;
  int eof = 0;
  uint64_t ts = 0;
  for (;;) {
    ssize_t n = read(s->fd, buf + have, BUF_SIZE - have);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      /* Anything else on a FIFO we own is unrecoverable for this stream. */
      eof = 1;
      break;
    }
    if (n == 0) { eof = 1; break; }
    ts = now_ns();
    size_t total = have + (size_t)n;
    int filled = (size_t)n == BUF_SIZE - have;
    size_t used = split(s->id, buf, total, ts);
    reads++;
    if (used < total && (!filled || reads >= READS_PER_TURN)) {
      queue(s->id, FLAG_PARTIAL, buf + used, total - used, ts);
      used = total;
    }
    flush(); /* the iovecs point into buf */
    have = total - used;
    if (have) memmove(buf, buf + used, have);
    if (reads >= READS_PER_TURN) break;
  }
  if (have) {
    queue(s->id, FLAG_PARTIAL, buf, have, ts);
    flush();
  }
  if (eof) {
    close(s->fd);
    s->fd = -1;
  }
  return eof;
}

static int armed;

static void arm(void) {
  if (armed) return;
  armed = 1;
  for (int i = 0; i < nstreams; i++) {
    if (streams[i].dummy >= 0) { close(streams[i].dummy); streams[i].dummy = -1; }
  }
}

static int open_fifo(const char *path, int flags, int mkfifo_missing) {
  if (mkfifo_missing && mkfifo(path, 0600) < 0 && errno != EEXIST) fail("mkfifo", path, errno);
  int fd;
  do fd = open(path, flags | O_CLOEXEC); while (fd < 0 && errno == EINTR);
  if (fd < 0) fail("open", path, errno);
  struct stat st;
  if (fstat(fd, &st) < 0) fail("stat", path, errno);
  if (!S_ISFIFO(st.st_mode)) fail("not a fifo:", path, 0);
  return fd;
}

static long parse_num(const char *opt, const char *v) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || n < 0) { fail("bad number for", opt, 0); }
  return n;
}

int main(int argc, char **argv) {
  const char *log_path = NULL, *out_path = NULL, *err_path = NULL, *in_path = NULL;
  int hold_stdin = 0, make = 0, start_armed = 0;
  long arm_timeout_ms = 30000, pipe_size = 0, lock_wait_ms = 2000;

  /*
   * Signals first: SIGUSR1's default action is to terminate, and the spawner
   * may arm us as soon as we reported ready. Blocked signals stay pending and
   * are read from a signalfd in the poll loop (no handler races).
   */
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGHUP, SIG_IGN);
  signal(SIGINT, SIG_IGN);

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(var) do { if (!v) usage_fail("missing value for option"); var = v; i++; } while (0)
    if (!strcmp(a, "--ready-fd")) { const char *s; TAKE(s); ready_fd = (int)parse_num(a, s); }
    else if (!strcmp(a, "--log")) TAKE(log_path);
    else if (!strcmp(a, "--stdout")) TAKE(out_path);
    else if (!strcmp(a, "--stderr")) TAKE(err_path);
    else if (!strcmp(a, "--stdin")) TAKE(in_path);
    else if (!strcmp(a, "--hold-stdin")) hold_stdin = 1;
    else if (!strcmp(a, "--mkfifo")) make = 1;
    else if (!strcmp(a, "--armed")) start_armed = 1;
    else if (!strcmp(a, "--arm-timeout-ms")) { const char *s; TAKE(s); arm_timeout_ms = parse_num(a, s); }
    else if (!strcmp(a, "--pipe-size")) { const char *s; TAKE(s); pipe_size = parse_num(a, s); }
    else if (!strcmp(a, "--lock-wait-ms")) { const char *s; TAKE(s); lock_wait_ms = parse_num(a, s); }
    else fail("unknown option", a, 0);
#undef TAKE
  }
  if (ready_fd >= 0 && fcntl(ready_fd, F_GETFD) < 0) { int e = errno; ready_fd = -1; fail("bad --ready-fd", "", e); }
  if (ready_fd >= 0) fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
  if (!log_path || !out_path) usage_fail("usage: --log FILE --stdout FIFO [--stderr FIFO] [--stdin FIFO [--hold-stdin]] [--mkfifo] [--ready-fd N] [--arm-timeout-ms MS] [--armed] [--pipe-size BYTES] [--lock-wait-ms MS]");
  if (hold_stdin && !in_path) usage_fail("--hold-stdin needs --stdin");

  /* Our own session: the supervisor's death (and its terminal) must not reach us. */
  if (getsid(0) != getpid()) setsid();

  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail("signalfd", "", errno);

  do log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640); while (log_fd < 0 && errno == EINTR);
  if (log_fd < 0) fail("open", log_path, errno);

  const char *paths[2] = { out_path, err_path };
  for (int i = 0; i < 2; i++) {
    if (!paths[i]) continue;
    struct stream *s = &streams[nstreams++];
    s->path = paths[i];
    s->id = i + 1;
    s->dummy = -1;
    /* Non-blocking: the shim has not opened its end yet, and must find a reader. */
    s->fd = open_fifo(paths[i], O_RDONLY | O_NONBLOCK, make);
    if (!start_armed) {
      /* Cannot block or fail with ENXIO: our reader is open. */
      s->dummy = open(paths[i], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (s->dummy < 0) fail("open dummy writer", paths[i], errno);
    }
    if (pipe_size > 0 && fcntl(s->fd, F_SETPIPE_SZ, (int)pipe_size) < 0) fail("F_SETPIPE_SZ", paths[i], errno);
  }
  int stdin_fd = -1;
  if (in_path) {
    if (hold_stdin) stdin_fd = open_fifo(in_path, O_RDWR, make); /* O_RDWR never blocks on Linux */
    else if (make && mkfifo(in_path, 0600) < 0 && errno != EEXIST) fail("mkfifo", in_path, errno);
  }
  (void)stdin_fd; /* held open until exit, never read */
  if (chdir("/") < 0) { /* not fatal: only avoids pinning a mount */ }

  if (ready_fd >= 0) {
    unsigned char one = 1;
    ssize_t w;
    do w = write(ready_fd, &one, 1); while (w < 0 && errno == EINTR);
    close(ready_fd); /* a dead spawner is fine: SIGPIPE is ignored */
    ready_fd = -1;
  }

  /* Serialize with the previous run's logger; see "Restarts" above. */
  int64_t lock_deadline = mono_ms() + lock_wait_ms;
  while (flock(log_fd, LOCK_EX | LOCK_NB) < 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK || mono_ms() >= lock_deadline) break;
    struct timespec d = { 0, 2 * 1000 * 1000 };
    nanosleep(&d, NULL);
  }

  int64_t arm_deadline = arm_timeout_ms > 0 ? mono_ms() + arm_timeout_ms : -1;
  int term = 0;
  if (start_armed) armed = 1;
  int check_all = armed; /* armed with no writer: read()==0 now, poll may never wake */

  for (;;) {
    int open_streams = 0;
    for (int i = 0; i < nstreams; i++) open_streams += streams[i].fd >= 0;
    if (!open_streams) break;

    if (check_all || term) {
      check_all = 0;
      for (int i = 0; i < nstreams; i++) if (streams[i].fd >= 0) drain(&streams[i]);
      if (term) break;
      continue;
    }

    struct pollfd pfd[3];
    int np = 0;
    pfd[np].fd = sfd; pfd[np].events = POLLIN; np++;
    int idx[2];
    for (int i = 0; i < nstreams; i++) {
      if (streams[i].fd < 0) continue;
      idx[np - 1] = i;
      pfd[np].fd = streams[i].fd; pfd[np].events = POLLIN; np++;
    }
    int timeout = -1;
    if (!armed && arm_deadline >= 0) {
      int64_t left = arm_deadline - mono_ms();
      timeout = left > 0 ? (int)(left > INT_MAX ? INT_MAX : left) : 0;
    }
    int r = poll(pfd, (nfds_t)np, timeout);
    if (r < 0) {
      if (errno == EINTR) continue;
      break; /* cannot happen with valid fds; still write the EOF record */
    }
    for (int k = 1; k < np; k++) {
      if (pfd[k].revents) drain(&streams[idx[k - 1]]);
    }
    if (pfd[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
        if (si.ssi_signo == SIGUSR1 && !armed) { arm(); check_all = 1; }
        else if (si.ssi_signo == SIGTERM) term = 1;
      }
    }
    if (!armed && arm_deadline >= 0 && mono_ms() >= arm_deadline) { arm(); check_all = 1; }
  }

  queue(STREAM_CONTROL, FLAG_EOF, NULL, 0, now_ns()); /* flush() notes lost bytes first */
  flush();
  return lost_bytes ? 1 : 0;
}
