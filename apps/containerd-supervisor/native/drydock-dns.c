/*
 * drydock-dns: the embedded DNS server of one container, answering at
 * 127.0.0.11:53 (UDP and TCP) inside the container's network namespace, as
 * dockerd's embedded resolver does on user-defined networks. One process per
 * container, started by containerd-supervisor and meant to outlive it: the
 * supervisor's restarts (SIGKILL included) drop no lookup.
 *
 * Usage:
 *   drydock-dns (--pid PID | --netns PATH | both) --records FILE --resolv FILE
 *               [--pidfile FILE] [--log FILE] [--foreground]
 *               [--listen ADDR] [--port N] [--ttl SECONDS]
 *               [--upstream-timeout-ms MS] [--tcp-idle-ms MS]
 *
 *   --pid PID       the container's init pid: its netns (/proc/PID/ns/net) is
 *                   entered unless --netns is given, and the server exits when
 *                   that process is gone (pidfd; /proc polling on old kernels).
 *   --netns PATH    a netns file to enter (a bind mount such as
 *                   /var/run/netns/x); the server exits when PATH no longer is
 *                   that namespace (unmounted or removed; checked every second).
 *   --records FILE  the names this container resolves, one `NAME IPV4` a line
 *                   (see "Records" below); re-read when it changes.
 *   --resolv FILE   the host's resolv.conf: its first three nameservers are the
 *                   upstreams for every other name; re-read when it changes.
 *   --pidfile FILE  written with "<pid>\n" and flock()ed first thing, held for
 *                   the server's life (a second server for the same file fails:
 *                   "already running (pid N)"), removed on exit or failed start.
 *   --log FILE      appends startup, reload, error and exit lines (not queries).
 *   --foreground    do not fork (errors on stderr); the default daemonizes.
 *   --listen/--port default 127.0.0.11 and 53. --ttl defaults to 600 (dockerd).
 *   --upstream-timeout-ms  per upstream server and query, default 4000 (dockerd).
 *   --tcp-idle-ms   closes an idle TCP client after this, default 10000.
 *
 * Daemonizing: the process forks; the child starts its own session, enters
 * the namespace, binds, writes the pidfile and then tells the parent, which
 * prints the server's pid on stdout and exits 0. On a startup error the parent
 * prints "drydock-dns: ..." on stderr and exits 2, and no server is left.
 * Exit status of the server itself: 0 (SIGTERM/SIGINT, init pid gone, netns
 * gone). SIGHUP re-reads both files now.
 *
 * Records: lines `NAME IPV4`, separated by blanks; `#` starts a comment.
 * Names are matched case-insensitively, a trailing dot ignored. A name listed
 * with several addresses gets all of them, in an order rotated by one on each
 * query (round robin: clients that take the first address spread out). PTR
 * (in-addr.arpa) for an address answers the first name listed with it in the
 * file, so the writer puts `<container>.<network>` first (dockerd's PTR name).
 * AAAA and MX for a listed name answer NOERROR with no records (dockerd does
 * the same for a container without IPv6); other types and all unlisted names
 * are forwarded, so NXDOMAIN only ever comes from upstream. The writer should
 * replace the file by rename(): a change is noticed by stat() on each query.
 *
 * Forwarding: the query is relayed verbatim (the client's id) to the first
 * upstream, then the next one on timeout, ICMP refusal or a send error, and
 * the first answer is relayed verbatim; SERVFAIL when all fail. UDP queries go
 * over UDP (a fresh connected socket per query: a random source port), TCP
 * queries over TCP. Non-loopback upstreams are queried from the container's
 * namespace (its routes and firewall apply, as in dockerd); loopback ones
 * (127.0.0.0/8, ::1, e.g. systemd-resolved) from the namespace the server was
 * started in, which is where they listen, as dockerd does. A resolv.conf
 * without nameservers means 8.8.8.8 and 8.8.4.4 (dockerd's default).
 *
 * If the container's lo is still down the server brings it up (runc and CNI's
 * loopback plugin do the same): a UDP socket bound to 127.0.0.11 while no
 * 127.0.0.0/8 route exists would answer from 127.0.0.1, which clients using a
 * connected socket (busybox, musl) drop.
 *
 * Limits: 1024 forwarded queries pending at once (more get SERVFAIL, as
 * dockerd's limit), 128 TCP clients (more wait in the listen backlog; an idle
 * client is closed to make room). Memory: fixed tables, untouched until used;
 * records, queries in flight and TCP buffers are the only heap.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

#define MAX_MSG 65535
#define MAX_UPSTREAMS 3      /* glibc's MAXNS; dockerd uses 3 too */
#define MAX_FWD 1024         /* pending forwarded queries (dockerd: 1024 concurrent) */
#define MAX_TCP 128          /* TCP clients at once; more wait in the listen backlog */
#define MAX_RECORDS_FILE (16 << 20)
#define CHECK_MS 1000        /* netns / pid (without pidfd) check period */

#define T_A 1
#define T_PTR 12
#define T_MX 15
#define T_AAAA 28
#define T_OPT 41
#define C_IN 1

/* ---- options and global state ---- */

static const char *records_path, *resolv_path, *pidfile_path, *log_path, *netns_path;
static long target_pid = -1;
static struct in_addr listen_ip;
static long listen_port = 53;
static long ttl = 600;
static long upstream_timeout_ms = 4000;
static long tcp_idle_ms = 10000;
static int foreground;

static int log_fd = -1;
static int ready_fd = -1;     /* daemon child -> parent: 0x01 or error text */
static int host_ns = -1;      /* netns we started in: loopback upstreams */
static int cont_ns = -1;      /* the container's netns */
static struct stat cont_ns_st;
static int pid_fd = -1;       /* pidfd of --pid, or -1 */
static unsigned long long pid_start; /* starttime of --pid without pidfd */
static int pidfile_fd = -1;
static int udp_fd = -1, tcp_fd = -1;

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...) {
  if (log_fd < 0) return;
  char line[1024];
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%SZ", &tm);
  int k = snprintf(line + n, sizeof line - n, " drydock-dns[%d]: ", (int)getpid());
  if (k > 0) n += (size_t)k;
  if (n < sizeof line) {
    va_list ap;
    va_start(ap, fmt);
    k = vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    if (k > 0) n += (size_t)k;
  }
  if (n > sizeof line - 1) n = sizeof line - 1;
  line[n++] = '\n';
  ssize_t w;
  do w = write(log_fd, line, n); while (w < 0 && errno == EINTR);
}

/* Startup failure: to the waiting parent (daemon) or stderr, then exit 2. */
static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
  char msg[768];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (n < 0) n = 0;
  if (n >= (int)sizeof msg) n = sizeof msg - 1;
  logmsg("startup failed: %s", msg);
  char out[800];
  int m = snprintf(out, sizeof out, "drydock-dns: %s\n", msg);
  if (m >= (int)sizeof out) m = sizeof out - 1;
  int fd = ready_fd >= 0 ? ready_fd : 2;
  ssize_t w;
  do w = write(fd, out, (size_t)m); while (w < 0 && errno == EINTR);
  if (pidfile_fd >= 0 && pidfile_path) unlink(pidfile_path);
  _exit(2);
}

static long parse_num(const char *opt, const char *v, long min, long max) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || *end || end == v || n < min || n > max) fail("bad value for %s: %s", opt, v);
  return n;
}

/* ---- records ---- */

struct name_ent {
  char *name;     /* lowercased, no trailing dot */
  uint32_t *ips;  /* network order, file order, no duplicates */
  int n;
  unsigned rr;    /* rotation offset, carried across reloads */
};
struct ptr_ent {
  uint32_t ip;
  const char *name;
};
struct pair {
  char *name;
  uint32_t ip;
  int order;
};

static struct name_ent *names;
static int nnames;
static struct ptr_ent *ptrs;
static int nptrs;
static char *rec_blob;
static uint32_t *rec_ips;
static int rec_known;  /* rec_st is valid (file existed at last look) */
static struct stat rec_st;

static int cmp_pair_name(const void *a, const void *b) {
  const struct pair *x = a, *y = b;
  int c = strcmp(x->name, y->name);
  return c ? c : x->order - y->order;
}
static int cmp_pair_ip(const void *a, const void *b) {
  const struct pair *x = a, *y = b;
  uint32_t p = ntohl(x->ip), q = ntohl(y->ip);
  if (p != q) return p < q ? -1 : 1;
  return x->order - y->order;
}
static int cmp_name_key(const void *key, const void *ent) {
  return strcmp((const char *)key, ((const struct name_ent *)ent)->name);
}
static int cmp_ptr_key(const void *key, const void *ent) {
  uint32_t p = ntohl(*(const uint32_t *)key), q = ntohl(((const struct ptr_ent *)ent)->ip);
  return p < q ? -1 : p > q;
}

static struct name_ent *find_name(const char *name) {
  if (!nnames) return NULL;
  return bsearch(name, names, (size_t)nnames, sizeof *names, cmp_name_key);
}

/* Lowercases in place and drops one trailing dot; 0 if not a usable name. */
static int normalize_name(char *s) {
  size_t len = strlen(s);
  if (len > 0 && s[len - 1] == '.') s[--len] = 0;
  if (len == 0 || len > 253) return 0;
  size_t label = 0;
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x21 || c > 0x7e) return 0;
    if (c >= 'A' && c <= 'Z') s[i] = (char)(c + 32);
    if (c == '.') {
      if (label == 0) return 0;
      label = 0;
    } else if (++label > 63) {
      return 0;
    }
  }
  return 1;
}

static void free_records(void) {
  free(names);
  free(ptrs);
  free(rec_blob);
  free(rec_ips);
  names = NULL;
  ptrs = NULL;
  rec_blob = NULL;
  rec_ips = NULL;
  nnames = nptrs = 0;
}

/* Parses the records file; on any error the current table stays. */
static void load_records(void) {
  int fd = open(records_path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      if (nnames) logmsg("records file %s is gone: no local names", records_path);
      free_records();
      rec_known = 0;
    } else {
      logmsg("cannot open %s: %s", records_path, strerror(errno));
    }
    return;
  }
  struct stat fst;
  if (fstat(fd, &fst) < 0 || fst.st_size > MAX_RECORDS_FILE) {
    logmsg("records file %s unreadable or too large", records_path);
    close(fd);
    return;
  }
  size_t size = (size_t)fst.st_size;
  char *blob = malloc(size + 1);
  if (!blob) { close(fd); logmsg("out of memory reading records"); return; }
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, blob + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  blob[got] = 0;

  /* Each line holds at least 4 bytes, so size/4+1 bounds the pairs. */
  size_t cap = got / 4 + 1;
  struct pair *pairs = malloc(cap * sizeof *pairs);
  if (!pairs) { free(blob); logmsg("out of memory reading records"); return; }
  int np = 0, bad = 0;
  char *save = NULL;
  for (char *line = strtok_r(blob, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    char *hash = strchr(line, '#');
    if (hash) *hash = 0;
    char *save2 = NULL;
    char *name = strtok_r(line, " \t\r", &save2);
    if (!name) continue;
    char *addr = strtok_r(NULL, " \t\r", &save2);
    char *extra = addr ? strtok_r(NULL, " \t\r", &save2) : NULL;
    struct in_addr ia;
    if (!addr || extra || !normalize_name(name) || inet_pton(AF_INET, addr, &ia) != 1) { bad++; continue; }
    if ((size_t)np < cap) {
      pairs[np].name = name;
      pairs[np].ip = ia.s_addr;
      pairs[np].order = np;
      np++;
    }
  }

  struct name_ent *nn = np ? calloc((size_t)np, sizeof *nn) : NULL;
  uint32_t *ips = np ? malloc((size_t)np * sizeof *ips) : NULL;
  struct ptr_ent *pp = np ? malloc((size_t)np * sizeof *pp) : NULL;
  if (np && (!nn || !ips || !pp)) {
    free(nn); free(ips); free(pp); free(pairs); free(blob);
    logmsg("out of memory reading records");
    return;
  }
  int k = 0, ni = 0;
  if (np) {
    qsort(pairs, (size_t)np, sizeof *pairs, cmp_pair_name);
    for (int i = 0; i < np; i++) {
      if (k == 0 || strcmp(nn[k - 1].name, pairs[i].name) != 0) {
        nn[k].name = pairs[i].name;
        nn[k].ips = ips + ni;
        nn[k].n = 0;
        struct name_ent *old = find_name(pairs[i].name);
        nn[k].rr = old ? old->rr : 0;
        k++;
      }
      struct name_ent *e = &nn[k - 1];
      int dup = 0;
      for (int j = 0; j < e->n; j++) dup |= e->ips[j] == pairs[i].ip;
      if (!dup) { e->ips[e->n++] = pairs[i].ip; ni++; }
    }
  }
  int kp = 0;
  if (np) {
    qsort(pairs, (size_t)np, sizeof *pairs, cmp_pair_ip);
    for (int i = 0; i < np; i++) {
      if (kp > 0 && pp[kp - 1].ip == pairs[i].ip) continue; /* first name in the file wins */
      pp[kp].ip = pairs[i].ip;
      pp[kp].name = pairs[i].name;
      kp++;
    }
  }
  free(pairs);
  free_records();
  names = nn;
  nnames = k;
  ptrs = pp;
  nptrs = kp;
  rec_blob = blob;
  rec_ips = ips;
  rec_st = fst;
  rec_known = 1;
  if (bad) logmsg("records: %d names, %d addresses, %d bad lines skipped", nnames, ni, bad);
  else logmsg("records: %d names, %d addresses", nnames, ni);
}

static int same_file(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
         a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
         a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void check_records(int force) {
  struct stat st;
  if (stat(records_path, &st) < 0) {
    if (rec_known || nnames) load_records(); /* clears the table */
    return;
  }
  if (force || !rec_known || !same_file(&st, &rec_st)) load_records();
}

/* ---- upstreams ---- */

struct upstream {
  struct sockaddr_storage sa;
  socklen_t len;
  int host_side; /* loopback: queried from the namespace we started in */
};
static struct upstream ups[MAX_UPSTREAMS];
static int nups;
static int res_known;
static struct stat res_st;

static int add_upstream(const char *addr) {
  struct upstream *u = &ups[nups];
  memset(u, 0, sizeof *u);
  struct sockaddr_in *s4 = (struct sockaddr_in *)&u->sa;
  struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&u->sa;
  if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
    s4->sin_family = AF_INET;
    s4->sin_port = htons(53);
    u->len = sizeof *s4;
    u->host_side = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
  } else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(53);
    u->len = sizeof *s6;
    u->host_side = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
    if (IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr)) return 0; /* needs a scope we do not have */
  } else {
    return 0;
  }
  nups++;
  return 1;
}

static void load_resolv(void) {
  nups = 0;
  FILE *f = fopen(resolv_path, "re");
  struct stat st;
  if (f && fstat(fileno(f), &st) == 0) { res_st = st; res_known = 1; }
  else res_known = 0;
  if (f) {
    char line[512];
    while (nups < MAX_UPSTREAMS && fgets(line, sizeof line, f)) {
      char *save = NULL;
      char *w = strtok_r(line, " \t\r\n", &save);
      if (!w || strcmp(w, "nameserver") != 0) continue;
      char *a = strtok_r(NULL, " \t\r\n", &save);
      if (a) add_upstream(a);
    }
    fclose(f);
  }
  if (nups == 0) {
    add_upstream("8.8.8.8");
    add_upstream("8.8.4.4");
    logmsg("no usable nameserver in %s: using 8.8.8.8 and 8.8.4.4", resolv_path);
  } else {
    logmsg("upstreams from %s: %d", resolv_path, nups);
  }
}

static void check_resolv(void) {
  struct stat st;
  if (stat(resolv_path, &st) < 0) {
    if (res_known) load_resolv();
    return;
  }
  if (!res_known || !same_file(&st, &res_st)) load_resolv();
}

/* A socket in the namespace the upstream must be reached from. */
static int upstream_socket(const struct upstream *u, int type) {
  int switched = 0;
  if (u->host_side) {
    if (setns(host_ns, CLONE_NEWNET) < 0) return -1;
    switched = 1;
  }
  int fd = socket(u->sa.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int e = errno;
  if (switched && setns(cont_ns, CLONE_NEWNET) < 0) {
    /* Cannot happen with the fds we hold; never serve from the wrong netns. */
    logmsg("cannot return to the container netns: %s", strerror(errno));
    _exit(1);
  }
  errno = e;
  return fd;
}

/* ---- DNS messages ---- */

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }
static void put32(unsigned char *p, uint32_t v) { p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16); p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v; }

struct query {
  const unsigned char *msg;
  size_t len;
  size_t qend;        /* end of the question section, 0 if unparsed */
  char name[256];     /* lowercased dotted qname, "" if not a plain name */
  unsigned qtype, qclass;
  int edns;
  unsigned edns_size;
};

/* Skips a (possibly compressed) name; returns the offset after it or 0. */
static size_t skip_name(const unsigned char *m, size_t len, size_t off) {
  for (int guard = 0; guard < 128; guard++) {
    if (off >= len) return 0;
    unsigned c = m[off];
    if (c == 0) return off + 1;
    if ((c & 0xC0) == 0xC0) return off + 2 <= len ? off + 2 : 0;
    if (c & 0xC0) return 0;
    off += 1 + c;
  }
  return 0;
}

/* 1 when the message is a query we may answer or forward, 0 to drop it. */
static int parse_query(struct query *q, const unsigned char *m, size_t len) {
  memset(q, 0, sizeof *q);
  q->msg = m;
  q->len = len;
  if (len < 12) return 0;
  if (m[2] & 0x80) return 0; /* a response */
  unsigned qd = get16(m + 4);
  if (qd != 1 || ((m[2] >> 3) & 0xF) != 0) return 1; /* forward as is */
  size_t off = 12, n = 0;
  int plain = 1;
  for (;;) {
    if (off >= len) return 1;
    unsigned c = m[off++];
    if (c == 0) break;
    if (c & 0xC0) return 1; /* a pointer in a question: leave it to upstream */
    if (off + c > len) return 1;
    if (n + c + 1 > 254) plain = 0;
    for (unsigned i = 0; plain && i < c; i++) {
      unsigned char ch = m[off + i];
      if (ch < 0x21 || ch > 0x7e || ch == '.') plain = 0;
      else q->name[n++] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
    }
    if (plain) q->name[n++] = '.';
    off += c;
  }
  if (off + 4 > len) return 1;
  if (plain && n > 0) q->name[n - 1] = 0; else q->name[0] = 0;
  q->qtype = get16(m + off);
  q->qclass = get16(m + off + 2);
  q->qend = off + 4;
  /* Look for EDNS OPT among the other records (queries rarely have more). */
  unsigned rest = get16(m + 6) + get16(m + 8) + get16(m + 10);
  size_t p = q->qend;
  for (unsigned i = 0; i < rest && i < 64; i++) {
    p = skip_name(m, len, p);
    if (!p || p + 10 > len) break;
    unsigned type = get16(m + p), cls = get16(m + p + 2), rdlen = get16(m + p + 8);
    if (type == T_OPT) {
      q->edns = 1;
      q->edns_size = cls < 512 ? 512 : cls > 4096 ? 4096 : cls;
    }
    p += 10 + rdlen;
  }
  return 1;
}

/* Header and question of an answer to q, rcode set; returns its length. */
static size_t start_reply(const struct query *q, unsigned char *out, unsigned rcode) {
  const unsigned char *m = q->msg;
  out[0] = m[0];
  out[1] = m[1];
  out[2] = (unsigned char)(0x80 | (m[2] & 0x79)); /* QR, opcode, RD; AA/TC clear */
  out[3] = (unsigned char)(0x80 | (rcode & 0xF));  /* RA */
  memset(out + 4, 0, 8);
  if (!q->qend) return 12;
  put16(out + 4, 1);
  memcpy(out + 12, m + 12, q->qend - 12); /* the client's spelling (0x20 case) */
  return q->qend;
}

static size_t finish_reply(const struct query *q, unsigned char *out, size_t n, unsigned answers, int tc) {
  put16(out + 6, answers);
  if (tc) out[2] |= 0x02;
  if (q->edns) {
    /* OPT: root name, type 41, our UDP size, no flags, no options. */
    out[n] = 0;
    put16(out + n + 1, T_OPT);
    put16(out + n + 3, 4096);
    put32(out + n + 5, 0);
    put16(out + n + 9, 0);
    n += 11;
    put16(out + 10, 1);
  }
  return n;
}

static size_t servfail(const struct query *q, unsigned char *out) {
  return finish_reply(q, out, start_reply(q, out, 2), 0, 0);
}

static int ptr_ipv4(const char *name, uint32_t *ip) {
  static const char sfx[] = ".in-addr.arpa";
  size_t len = strlen(name), sl = sizeof sfx - 1;
  if (len <= sl || strcmp(name + len - sl, sfx) != 0) return 0;
  unsigned oct[4];
  int k = 0;
  const char *p = name;
  const char *end = name + len - sl;
  while (p < end && k < 4) {
    char *e;
    if (*p < '0' || *p > '9') return 0;
    unsigned long v = strtoul(p, &e, 10);
    if (v > 255 || (e != end && *e != '.') || e - p > 3) return 0;
    oct[k++] = (unsigned)v;
    p = e == end ? e : e + 1;
  }
  if (k != 4 || p != end) return 0;
  *ip = htonl(oct[3] << 24 | oct[2] << 16 | oct[1] << 8 | oct[0]);
  return 1;
}

/*
 * Answers q from the records if it is ours; returns the answer's length, or 0
 * to forward. `max` is what the transport allows (512 / EDNS size / 65535).
 */
static size_t answer_local(const struct query *q, unsigned char *out, size_t max) {
  if (!q->qend || !q->name[0] || q->qclass != C_IN) return 0;
  check_records(0);
  size_t opt = q->edns ? 11 : 0;
  if (q->qtype == T_A) {
    struct name_ent *e = find_name(q->name);
    if (!e) return 0;
    size_t n = start_reply(q, out, 0);
    out[2] |= 0x04; /* AA: the names are ours */
    unsigned start = e->rr++ % (unsigned)e->n, cnt = 0;
    int tc = 0;
    for (int i = 0; i < e->n; i++) {
      if (n + 16 + opt > max) { tc = 1; break; }
      unsigned char *r = out + n;
      put16(r, 0xC00C);
      put16(r + 2, T_A);
      put16(r + 4, C_IN);
      put32(r + 6, (uint32_t)ttl);
      put16(r + 10, 4);
      memcpy(r + 12, &e->ips[(start + (unsigned)i) % (unsigned)e->n], 4);
      n += 16;
      cnt++;
    }
    return finish_reply(q, out, n, cnt, tc);
  }
  if (q->qtype == T_AAAA || q->qtype == T_MX) {
    if (!find_name(q->name)) return 0;
    size_t n = start_reply(q, out, 0);
    out[2] |= 0x04;
    return finish_reply(q, out, n, 0, 0);
  }
  if (q->qtype == T_PTR) {
    uint32_t ip;
    if (!ptr_ipv4(q->name, &ip) || !nptrs) return 0;
    struct ptr_ent *p = bsearch(&ip, ptrs, (size_t)nptrs, sizeof *ptrs, cmp_ptr_key);
    if (!p) return 0;
    size_t nlen = strlen(p->name);
    size_t n = start_reply(q, out, 0);
    out[2] |= 0x04;
    if (n + 12 + nlen + 2 + opt > max) return finish_reply(q, out, n, 0, 1);
    unsigned char *r = out + n;
    put16(r, 0xC00C);
    put16(r + 2, T_PTR);
    put16(r + 4, C_IN);
    put32(r + 6, (uint32_t)ttl);
    put16(r + 10, (unsigned)(nlen + 2));
    unsigned char *w = r + 12;
    const char *s = p->name;
    while (*s) {
      const char *dot = strchr(s, '.');
      size_t l = dot ? (size_t)(dot - s) : strlen(s);
      *w++ = (unsigned char)l;
      memcpy(w, s, l);
      w += l;
      s += l + (dot ? 1 : 0);
    }
    *w++ = 0;
    return finish_reply(q, out, n + 12 + nlen + 2, 1, 0);
  }
  return 0;
}

/* ---- forwarding ---- */

struct tconn;

struct fwd {
  int used;
  int fd;                    /* socket to the current upstream */
  int tcp;                   /* forwarded over TCP (for a TCP client) */
  struct tconn *client;      /* TCP client, or NULL */
  struct sockaddr_storage from; /* UDP client */
  socklen_t fromlen;
  unsigned char *msg;        /* the query; for TCP with its 2-byte length */
  size_t len;                /* bytes of msg (with the prefix for TCP) */
  struct upstream up[MAX_UPSTREAMS];
  int nup, cur;
  int64_t deadline;
  unsigned gen;              /* changes with each socket: stale poll results are skipped */
  /* TCP upstream progress */
  int connecting;
  size_t sent;
  unsigned char *resp;
  size_t rhave;
};
static struct fwd fwds[MAX_FWD];
/* 1 + the highest slot ever used: loops stop there, so untouched pages of the table stay non-resident. */
static int fwd_top;

struct tconn {
  int fd;
  unsigned char *in;   /* 2 + MAX_MSG */
  size_t inlen;
  unsigned char *out;
  size_t outlen, outoff, outcap;
  int busy;            /* a query of this client is being forwarded */
  int eof;             /* client closed its side */
  int64_t idle_deadline;
  unsigned gen;        /* changes with each connection in this slot */
};
static struct tconn tconns[MAX_TCP];
static unsigned next_gen;

static unsigned char obuf[MAX_MSG + 2];

static void send_udp(const struct sockaddr_storage *to, socklen_t tolen, const unsigned char *m, size_t n) {
  ssize_t w;
  do w = sendto(udp_fd, m, n, MSG_NOSIGNAL | MSG_DONTWAIT, (const struct sockaddr *)to, tolen); while (w < 0 && errno == EINTR);
}

static void tcp_close(struct tconn *c);

/* Queues a framed answer for a TCP client. */
static void tcp_queue(struct tconn *c, const unsigned char *m, size_t n) {
  if (c->outlen + n + 2 > c->outcap) {
    size_t cap = c->outlen + n + 2;
    unsigned char *p = realloc(c->out, cap);
    if (!p) { tcp_close(c); return; }
    c->out = p;
    c->outcap = cap;
  }
  put16(c->out + c->outlen, (unsigned)n);
  memcpy(c->out + c->outlen + 2, m, n);
  c->outlen += n + 2;
}

static void fwd_free(struct fwd *f) {
  if (f->fd >= 0) close(f->fd);
  free(f->msg);
  free(f->resp);
  if (f->client) f->client->busy = 0;
  memset(f, 0, sizeof *f);
  f->fd = -1;
}

static void tcp_process(struct tconn *c);

/* Logs failed forwards at most once a second, with a count: a dead upstream must not flood the log. */
static void note_servfail(int tried) {
  static int64_t last;
  static unsigned long suppressed;
  int64_t now = mono_ms();
  if (last && now - last < 1000) { suppressed++; return; }
  if (suppressed) logmsg("no upstream answered %lu more queries", suppressed);
  logmsg("no upstream answered a query (%d tried)", tried);
  suppressed = 0;
  last = now;
}

/* Delivers an upstream answer (or SERVFAIL) to the client and frees f. */
static void fwd_done(struct fwd *f, const unsigned char *ans, size_t n) {
  struct tconn *c = f->client;
  if (!ans) {
    struct query q;
    const unsigned char *m = f->tcp ? f->msg + 2 : f->msg;
    size_t len = f->tcp ? f->len - 2 : f->len;
    parse_query(&q, m, len);
    n = servfail(&q, obuf);
    ans = obuf;
    note_servfail(f->nup);
  }
  if (c) tcp_queue(c, ans, n);
  else send_udp(&f->from, f->fromlen, ans, n);
  fwd_free(f);
  if (c && c->fd >= 0) tcp_process(c); /* next pipelined query */
}

/* Sends f's query to upstream cur, moving on past immediate failures. */
static void fwd_try(struct fwd *f) {
  for (; f->cur < f->nup; f->cur++) {
    if (f->fd >= 0) { close(f->fd); f->fd = -1; }
    free(f->resp);
    f->resp = NULL;
    f->rhave = 0;
    f->sent = 0;
    const struct upstream *u = &f->up[f->cur];
    int fd = upstream_socket(u, f->tcp ? SOCK_STREAM : SOCK_DGRAM);
    if (fd < 0) continue;
    f->fd = fd;
    f->gen = ++next_gen;
    f->deadline = mono_ms() + upstream_timeout_ms;
    if (connect(fd, (const struct sockaddr *)&u->sa, u->len) < 0) {
      if (f->tcp && errno == EINPROGRESS) { f->connecting = 1; return; }
      continue;
    }
    if (f->tcp) { f->connecting = 1; return; } /* writes happen on POLLOUT */
    ssize_t w;
    do w = send(fd, f->msg, f->len, MSG_NOSIGNAL); while (w < 0 && errno == EINTR);
    if (w == (ssize_t)f->len) return;
  }
  fwd_done(f, NULL, 0);
}

static void fwd_next(struct fwd *f) {
  f->cur++;
  f->connecting = 0;
  fwd_try(f);
}

static struct fwd *fwd_alloc(void) {
  for (int i = 0; i < MAX_FWD; i++) {
    if (fwds[i].used) continue;
    if (i >= fwd_top) fwd_top = i + 1;
    return &fwds[i];
  }
  return NULL;
}

static void forward(const struct query *q, struct tconn *c, const struct sockaddr_storage *from, socklen_t fromlen) {
  if (!c) {
    /* A client's retransmit while we still wait: the pending one answers. */
    for (int i = 0; i < fwd_top; i++) {
      struct fwd *f = &fwds[i];
      if (f->used && !f->client && f->fromlen == fromlen && !memcmp(&f->from, from, fromlen) &&
          f->len == q->len && !memcmp(f->msg, q->msg, q->len)) return;
    }
  }
  struct fwd *f = fwd_alloc();
  unsigned char *m = f ? malloc(q->len + 2) : NULL;
  if (!m) {
    size_t n = servfail(q, obuf);
    if (c) tcp_queue(c, obuf, n); else send_udp(from, fromlen, obuf, n);
    if (f) logmsg("out of memory forwarding a query");
    return;
  }
  check_resolv();
  f->used = 1;
  f->fd = -1;
  f->client = c;
  f->tcp = c != NULL;
  if (c) {
    put16(m, (unsigned)q->len);
    memcpy(m + 2, q->msg, q->len);
    f->len = q->len + 2;
    c->busy = 1;
  } else {
    memcpy(m, q->msg, q->len);
    f->len = q->len;
    memcpy(&f->from, from, fromlen);
    f->fromlen = fromlen;
  }
  f->msg = m;
  memcpy(f->up, ups, sizeof ups);
  f->nup = nups;
  f->cur = 0;
  fwd_try(f);
}

static void fwd_udp_readable(struct fwd *f) {
  for (;;) {
    ssize_t r = recv(f->fd, obuf, sizeof obuf, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fwd_next(f); /* ECONNREFUSED and friends: next server */
      return;
    }
    /* An answer to our query: same id, QR set. Anything else is ignored. */
    if (r >= 12 && obuf[0] == f->msg[0] && obuf[1] == f->msg[1] && (obuf[2] & 0x80)) {
      fwd_done(f, obuf, (size_t)r);
      return;
    }
  }
}

static void fwd_tcp_event(struct fwd *f, short rev) {
  if (f->connecting) {
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0 || err) { fwd_next(f); return; }
    if (!(rev & (POLLOUT | POLLERR | POLLHUP))) return;
    f->connecting = 0;
  }
  while (f->sent < f->len) {
    ssize_t w = send(f->fd, f->msg + f->sent, f->len - f->sent, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (w <= 0) { fwd_next(f); return; }
    f->sent += (size_t)w;
  }
  if (!f->resp) {
    f->resp = malloc(MAX_MSG + 2);
    if (!f->resp) { fwd_done(f, NULL, 0); return; }
  }
  for (;;) {
    size_t need = f->rhave < 2 ? 2 : 2 + (size_t)get16(f->resp);
    if (f->rhave >= 2 && f->rhave == need) {
      if (need - 2 < 12 || f->resp[2] != f->msg[2] || f->resp[3] != f->msg[3]) { fwd_next(f); return; }
      fwd_done(f, f->resp + 2, need - 2);
      return;
    }
    ssize_t r = recv(f->fd, f->resp + f->rhave, need - f->rhave, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r <= 0) { fwd_next(f); return; }
    f->rhave += (size_t)r;
  }
}

/* ---- clients ---- */

static void handle_udp(void) {
  static unsigned char in[MAX_MSG];
  for (int turn = 0; turn < 64; turn++) {
    struct sockaddr_storage from;
    socklen_t fl = sizeof from;
    ssize_t r = recvfrom(udp_fd, in, sizeof in, 0, (struct sockaddr *)&from, &fl);
    if (r < 0) {
      if (errno == EINTR) continue;
      return; /* EAGAIN, or an ICMP error of an earlier answer */
    }
    struct query q;
    if (!parse_query(&q, in, (size_t)r)) continue;
    size_t n = answer_local(&q, obuf, q.edns ? q.edns_size : 512);
    if (n) send_udp(&from, fl, obuf, n);
    else forward(&q, NULL, &from, fl);
  }
}

static void tcp_close(struct tconn *c) {
  if (c->fd < 0) return;
  for (int i = 0; i < fwd_top; i++) {
    if (fwds[i].used && fwds[i].client == c) { fwds[i].client = NULL; c->busy = 0; fwd_free(&fwds[i]); }
  }
  close(c->fd);
  free(c->in);
  free(c->out);
  memset(c, 0, sizeof *c);
  c->fd = -1;
}

/* Answers the complete queries in c's input, one at a time. */
static void tcp_process(struct tconn *c) {
  while (!c->busy && c->fd >= 0 && c->inlen >= 2) {
    size_t need = 2 + (size_t)get16(c->in);
    if (c->inlen < need) break;
    struct query q;
    if (parse_query(&q, c->in + 2, need - 2)) {
      size_t n = answer_local(&q, obuf, MAX_MSG);
      if (n) tcp_queue(c, obuf, n);
      else forward(&q, c, NULL, 0);
    }
    if (c->fd < 0) return;
    memmove(c->in, c->in + need, c->inlen - need);
    c->inlen -= need;
  }
}

static void tcp_flush(struct tconn *c) {
  while (c->outoff < c->outlen) {
    ssize_t w = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (w <= 0) { tcp_close(c); return; }
    c->outoff += (size_t)w;
  }
  c->outoff = c->outlen = 0;
}

/*
 * A slot for a new TCP client: a free one, else the client idle longest (at
 * least a second: nothing read, nothing owed), else none and the connection
 * waits in the backlog.
 */
static struct tconn *tcp_slot(void) {
  struct tconn *idle = NULL;
  int64_t now = mono_ms();
  for (int i = 0; i < MAX_TCP; i++) {
    struct tconn *c = &tconns[i];
    if (c->fd < 0) return c;
    if (c->busy || c->outlen || c->inlen || c->idle_deadline - tcp_idle_ms > now - 1000) continue;
    if (!idle || c->idle_deadline < idle->idle_deadline) idle = c;
  }
  return idle;
}

static void tcp_accept(void) {
  for (;;) {
    struct tconn *slot = tcp_slot();
    if (!slot) return;
    int fd = accept4(tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (slot->fd >= 0) tcp_close(slot);
    slot->in = malloc(MAX_MSG + 2);
    if (!slot->in) { close(fd); continue; }
    slot->fd = fd;
    slot->gen = ++next_gen;
    slot->inlen = 0;
    slot->idle_deadline = mono_ms() + tcp_idle_ms;
  }
}

static void tcp_event(struct tconn *c, short rev) {
  c->idle_deadline = mono_ms() + tcp_idle_ms;
  if (rev & POLLOUT) tcp_flush(c);
  if (c->fd < 0) return;
  if (rev & (POLLIN | POLLHUP | POLLERR)) {
    for (;;) {
      if (c->inlen == MAX_MSG + 2) break; /* stop reading until a query is handled */
      ssize_t r = recv(c->fd, c->in + c->inlen, MAX_MSG + 2 - c->inlen, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (r <= 0) { c->eof = 1; break; }
      c->inlen += (size_t)r;
    }
    tcp_process(c);
  }
  if (c->fd < 0) return;
  tcp_flush(c);
  if (c->fd >= 0 && c->eof && !c->busy && c->outlen == 0) tcp_close(c);
}

/* ---- lifetime ---- */

static unsigned long long proc_starttime(long pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = 0;
  char *p = strrchr(buf, ')'); /* comm may hold spaces and parens */
  if (!p || p[1] != ' ') return 0;
  if (p[2] == 'Z' || p[2] == 'X') return 0; /* exited, not reaped yet */
  p += 2;
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return strtoull(p, NULL, 10);
}

static const char *gone_reason(void) {
  if (target_pid > 0 && pid_fd < 0 && proc_starttime(target_pid) != pid_start) return "the container's init process is gone";
  if (netns_path) {
    struct stat st;
    if (stat(netns_path, &st) < 0 || st.st_dev != cont_ns_st.st_dev || st.st_ino != cont_ns_st.st_ino) return "the network namespace is gone";
  }
  return NULL;
}

static void write_pidfile(void) {
  pidfile_fd = open(pidfile_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (pidfile_fd < 0) fail("open %s: %s", pidfile_path, strerror(errno));
  if (flock(pidfile_fd, LOCK_EX | LOCK_NB) < 0) {
    char old[32] = "";
    ssize_t r = pread(pidfile_fd, old, sizeof old - 1, 0);
    if (r > 0) old[r] = 0;
    old[strcspn(old, "\n")] = 0;
    int fd = pidfile_fd;
    pidfile_fd = -1; /* not ours: keep the file */
    close(fd);
    fail("already running for %s (pid %s)", pidfile_path, old[0] ? old : "?");
  }
  char b[32];
  int n = snprintf(b, sizeof b, "%d\n", (int)getpid());
  if (ftruncate(pidfile_fd, 0) < 0 || pwrite(pidfile_fd, b, (size_t)n, 0) != n) fail("write %s: %s", pidfile_path, strerror(errno));
}

static void loopback_up(void) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return;
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0) logmsg("cannot bring lo up: %s", strerror(errno));
    else logmsg("brought lo up");
  }
  close(fd);
}

static int listen_socket(int type) {
  int fd = socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail("socket: %s", strerror(errno));
  int one = 1;
  /* Binds even if the address is not local (yet); see loopback_up() for why lo is up first. */
  setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof one);
  if (type == SOCK_STREAM) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  /* Room for a burst of queries (a compose app starting): the default drops after ~250 packets. */
  int rcv = 1 << 20;
  if (type == SOCK_DGRAM && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof rcv) < 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)listen_port);
  sa.sin_addr = listen_ip;
  char a[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &listen_ip, a, sizeof a);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) fail("bind %s:%ld/%s: %s", a, listen_port, type == SOCK_STREAM ? "tcp" : "udp", strerror(errno));
  if (type == SOCK_STREAM && listen(fd, 64) < 0) fail("listen: %s", strerror(errno));
  return fd;
}

/* The server works from "/", so relative paths are made absolute first. */
static const char *absolute(const char *path) {
  if (!path || path[0] == '/') return path;
  char cwd[4096];
  if (!getcwd(cwd, sizeof cwd)) fail("getcwd: %s", strerror(errno));
  size_t n = strlen(cwd) + strlen(path) + 2;
  char *out = malloc(n);
  if (!out) fail("out of memory");
  snprintf(out, n, "%s/%s", cwd, path);
  return out;
}

static void usage(void) {
  fail("usage: drydock-dns (--pid PID | --netns PATH) --records FILE --resolv FILE [--pidfile FILE] [--log FILE] [--foreground] "
       "[--listen ADDR] [--port N] [--ttl S] [--upstream-timeout-ms MS] [--tcp-idle-ms MS]");
}

int main(int argc, char **argv) {
  const char *listen_s = "127.0.0.11";
  signal(SIGPIPE, SIG_IGN);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKE(var) do { if (!v) fail("missing value for %s", a); var = v; i++; } while (0)
    const char *s;
    if (!strcmp(a, "--pid")) { TAKE(s); target_pid = parse_num(a, s, 1, 0x7fffffff); }
    else if (!strcmp(a, "--netns")) TAKE(netns_path);
    else if (!strcmp(a, "--records")) TAKE(records_path);
    else if (!strcmp(a, "--resolv")) TAKE(resolv_path);
    else if (!strcmp(a, "--pidfile")) TAKE(pidfile_path);
    else if (!strcmp(a, "--log")) TAKE(log_path);
    else if (!strcmp(a, "--listen")) TAKE(listen_s);
    else if (!strcmp(a, "--port")) { TAKE(s); listen_port = parse_num(a, s, 1, 65535); }
    else if (!strcmp(a, "--ttl")) { TAKE(s); ttl = parse_num(a, s, 0, 0x7fffffff); }
    else if (!strcmp(a, "--upstream-timeout-ms")) { TAKE(s); upstream_timeout_ms = parse_num(a, s, 1, 600000); }
    else if (!strcmp(a, "--tcp-idle-ms")) { TAKE(s); tcp_idle_ms = parse_num(a, s, 1, 3600000); }
    else if (!strcmp(a, "--foreground")) foreground = 1;
    else fail("unknown option %s", a);
#undef TAKE
  }
  if ((target_pid < 0 && !netns_path) || !records_path || !resolv_path) usage();
  if (inet_pton(AF_INET, listen_s, &listen_ip) != 1) fail("bad value for --listen: %s", listen_s);
  records_path = absolute(records_path);
  resolv_path = absolute(resolv_path);
  pidfile_path = absolute(pidfile_path);
  log_path = absolute(log_path);
  netns_path = absolute(netns_path);

  if (log_path) {
    log_fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (log_fd < 0) fail("open %s: %s", log_path, strerror(errno));
  }

  if (!foreground) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) fail("pipe: %s", strerror(errno));
    pid_t child = fork();
    if (child < 0) fail("fork: %s", strerror(errno));
    if (child > 0) {
      close(p[1]);
      char buf[800];
      size_t n = 0;
      for (;;) {
        ssize_t r = read(p[0], buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        n += (size_t)r;
        if (n == sizeof buf - 1) break;
      }
      if (n > 0 && buf[0] == 1) {
        printf("%d\n", (int)child);
        return fflush(stdout) == 0 ? 0 : 1;
      }
      if (n == 0) fprintf(stderr, "drydock-dns: the server exited during startup\n");
      else fwrite(buf, 1, n, stderr);
      return 2;
    }
    close(p[0]);
    ready_fd = p[1];
    /* Our own session, and no stdio shared with the spawner (it waits for EOF). */
    setsid();
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) { dup2(null, 0); dup2(null, 1); dup2(null, 2); if (null > 2) close(null); }
  } else if (getsid(0) != getpid()) {
    setsid();
  }

  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGHUP);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
  if (sfd < 0) fail("signalfd: %s", strerror(errno));

  /* First: a second server for the same container fails here, naming the first. */
  if (pidfile_path) write_pidfile();

  host_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (host_ns < 0) fail("open /proc/self/ns/net: %s", strerror(errno));
  if (target_pid > 0) {
    pid_fd = (int)syscall(SYS_pidfd_open, (pid_t)target_pid, 0);
    if (pid_fd < 0 && errno == ESRCH) fail("no process %ld", target_pid);
    if (pid_fd < 0) {
      pid_start = proc_starttime(target_pid);
      if (!pid_start) fail("no process %ld", target_pid);
    } else {
      fcntl(pid_fd, F_SETFD, FD_CLOEXEC);
    }
  }
  char nspath[64];
  const char *ns = netns_path;
  if (!ns) { snprintf(nspath, sizeof nspath, "/proc/%ld/ns/net", target_pid); ns = nspath; }
  cont_ns = open(ns, O_RDONLY | O_CLOEXEC);
  if (cont_ns < 0) fail("open %s: %s", ns, strerror(errno));
  if (fstat(cont_ns, &cont_ns_st) < 0) fail("stat %s: %s", ns, strerror(errno));
  if (setns(cont_ns, CLONE_NEWNET) < 0) fail("setns %s: %s", ns, strerror(errno));
  /* Hold the netns itself, not the file we opened: an fd on a bind mount would keep umount busy. */
  int self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  if (self_ns < 0) fail("open /proc/self/ns/net: %s", strerror(errno));
  close(cont_ns);
  cont_ns = self_ns;

  loopback_up();
  udp_fd = listen_socket(SOCK_DGRAM);
  tcp_fd = listen_socket(SOCK_STREAM);
  for (int i = 0; i < MAX_TCP; i++) tconns[i].fd = -1;
  load_resolv();
  check_records(1);
  if (chdir("/") < 0) { /* not fatal: only avoids pinning a mount */ }
  logmsg("serving %s:%ld in %s (pid %d)", listen_s, listen_port, ns, (int)getpid());

  if (ready_fd >= 0) {
    unsigned char one = 1;
    ssize_t w;
    do w = write(ready_fd, &one, 1); while (w < 0 && errno == EINTR);
    close(ready_fd);
    ready_fd = -1;
  }

  static struct pollfd pfd[4 + MAX_TCP + MAX_FWD];
  static void *owner[4 + MAX_TCP + MAX_FWD];
  static unsigned ogen[4 + MAX_TCP + MAX_FWD];
  int64_t next_check = mono_ms() + CHECK_MS;
  const char *why = NULL;
  int status = 0;
  while (!why) {
    int np = 0;
    pfd[np].fd = sfd; pfd[np].events = POLLIN; owner[np++] = NULL;
    pfd[np].fd = udp_fd; pfd[np].events = POLLIN; owner[np++] = NULL;
    pfd[np].fd = tcp_fd; pfd[np].events = tcp_slot() ? POLLIN : 0; owner[np++] = NULL;
    pfd[np].fd = pid_fd; pfd[np].events = POLLIN; owner[np++] = NULL; /* -1 is skipped by poll */
    int64_t now = mono_ms();
    int64_t wake = next_check;
    for (int i = 0; i < MAX_TCP; i++) {
      struct tconn *c = &tconns[i];
      if (c->fd < 0) continue;
      pfd[np].fd = c->fd;
      pfd[np].events = (short)((c->inlen < MAX_MSG + 2 && !c->eof ? POLLIN : 0) | (c->outlen > c->outoff ? POLLOUT : 0));
      ogen[np] = c->gen;
      owner[np++] = c;
      if (!c->busy && c->idle_deadline < wake) wake = c->idle_deadline;
    }
    for (int i = 0; i < fwd_top; i++) {
      struct fwd *f = &fwds[i];
      if (!f->used) continue;
      pfd[np].fd = f->fd;
      pfd[np].events = (short)(f->tcp && (f->connecting || f->sent < f->len) ? POLLOUT : POLLIN);
      ogen[np] = f->gen;
      owner[np++] = f;
      if (f->deadline < wake) wake = f->deadline;
    }
    int timeout = wake > now ? (int)(wake - now) : 0;
    int r = poll(pfd, (nfds_t)np, timeout);
    if (r < 0 && errno != EINTR) { logmsg("poll: %s", strerror(errno)); status = 1; break; }
    now = mono_ms();
    if (r > 0) {
      if (pfd[0].revents & POLLIN) {
        struct signalfd_siginfo si;
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
          if (si.ssi_signo == SIGHUP) { logmsg("SIGHUP: re-reading files"); check_records(1); load_resolv(); }
          else why = si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT";
        }
      }
      if (pfd[3].revents) why = "the container's init process is gone";
      if (why) break;
      if (pfd[1].revents & POLLIN) handle_udp();
      if (pfd[2].revents & POLLIN) tcp_accept();
      for (int k = 4; k < np; k++) {
        if (!pfd[k].revents) continue;
        void *o = owner[k];
        if (o >= (void *)tconns && o < (void *)(tconns + MAX_TCP)) {
          struct tconn *c = o;
          if (c->fd >= 0 && c->gen == ogen[k]) tcp_event(c, pfd[k].revents);
        } else {
          struct fwd *f = o;
          /* The slot may have been finished and reused meanwhile in this turn. */
          if (!f->used || f->gen != ogen[k]) continue;
          if (f->tcp) fwd_tcp_event(f, pfd[k].revents);
          else if (pfd[k].revents & (POLLIN | POLLERR)) fwd_udp_readable(f);
        }
      }
    }
    for (int i = 0; i < fwd_top; i++) {
      struct fwd *f = &fwds[i];
      if (f->used && f->deadline <= now) fwd_next(f);
    }
    for (int i = 0; i < MAX_TCP; i++) {
      struct tconn *c = &tconns[i];
      if (c->fd >= 0 && !c->busy && c->idle_deadline <= now) tcp_close(c);
    }
    if (now >= next_check) {
      why = gone_reason();
      next_check = now + CHECK_MS;
    }
  }
  logmsg("exiting: %s", why ? why : "error");
  if (pidfile_fd >= 0) unlink(pidfile_path);
  return status;
}
