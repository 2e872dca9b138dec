/*
 * A legacy Docker volume plugin for the tests (docker.volumedriver/1.0 over a unix socket).
 *
 *   volume-plugin --socket PATH --dir DIR [--scope local|global]
 *
 * Volumes are directories DIR/volumes/NAME. Every call is appended to DIR/calls.log as
 * "Method Name ID" (ID only for Mount/Unmount), so tests can check what the engine asked.
 * Faults, read at each request so a test can switch them while the plugin runs:
 *   DIR/hang     methods (one per line, "*" for all) that never answer
 *   DIR/garbage  methods that answer with a body that is not JSON
 * Plugin.Activate is a method like the others ("Plugin.Activate"); VolumeDriver.* calls are
 * named without the prefix ("Mount"). One process per connection, so a hanging call blocks
 * nothing else; children die with the parent (PR_SET_PDEATHSIG).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static const char *dir, *scope = "local";
static char voldir[4096];

static int listed(const char *file, const char *method) {
  char path[4200], line[256];
  snprintf(path, sizeof path, "%s/%s", dir, file);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int hit = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = 0;
    if (!strcmp(line, "*") || !strcmp(line, method)) hit = 1;
  }
  fclose(f);
  return hit;
}

/* The string value of "key" in a flat JSON object (names here are plain: no escapes needed). */
static void field(const char *body, const char *key, char *out, size_t n) {
  char pat[64];
  out[0] = 0;
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(body, pat);
  if (!p) return;
  p += strlen(pat);
  while (*p == ' ' || *p == ':') p++;
  if (*p != '"') return;
  p++;
  size_t i = 0;
  while (*p && *p != '"' && i + 1 < n) {
    if (*p == '\\' && p[1]) p++;
    out[i++] = *p++;
  }
  out[i] = 0;
}

static int valid_name(const char *s) {
  if (!*s) return 0;
  for (; *s; s++)
    if (!(*s == '-' || *s == '_' || *s == '.' || (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
  return 1;
}

static void reply(int fd, int status, const char *body) {
  char head[256];
  int n = snprintf(head, sizeof head, "HTTP/1.1 %d %s\r\nContent-Type: application/vnd.docker.plugins.v1.2+json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
                   status, status == 200 ? "OK" : "Error", strlen(body));
  if (write(fd, head, n) < 0 || write(fd, body, strlen(body)) < 0) return;
}

static void record(const char *method, const char *name, const char *id) {
  char path[4200], line[512];
  snprintf(path, sizeof path, "%s/calls.log", dir);
  FILE *f = fopen(path, "a");
  if (!f) return;
  int n = snprintf(line, sizeof line, "%s %s %s\n", method, name, id);
  fwrite(line, 1, n, f);
  fclose(f);
}

static int rm_entry(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb; (void)flag; (void)ftw;
  return remove(p);
}

static void handle(int fd) {
  static char buf[1 << 16];
  size_t len = 0;
  char *end = NULL;
  while (len < sizeof buf - 1) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0) return;
    len += r;
    buf[len] = 0;
    if ((end = strstr(buf, "\r\n\r\n"))) break;
  }
  if (!end) return;
  size_t clen = 0;
  char *cl = strcasestr(buf, "\r\nContent-Length:");
  if (cl && cl < end) clen = strtoul(cl + 17, NULL, 10);
  char *body = end + 4;
  while ((size_t)(buf + len - body) < clen && len < sizeof buf - 1) {
    ssize_t r = read(fd, buf + len, sizeof buf - 1 - len);
    if (r <= 0) break;
    len += r;
    buf[len] = 0;
  }
  char path[256] = {0};
  if (sscanf(buf, "POST %255s", path) != 1) return reply(fd, 405, "{\"Err\":\"POST only\"}");
  const char *method = path + 1;
  if (!strncmp(method, "VolumeDriver.", 13)) method += 13;
  char name[256], id[256], mp[4500], out[1 << 15];
  field(body, "Name", name, sizeof name);
  field(body, "ID", id, sizeof id);
  record(method, name, id);
  if (listed("hang", method)) {
    for (;;) pause();
  }
  if (listed("garbage", method)) return reply(fd, 200, "<html>this is not json{{");
  snprintf(mp, sizeof mp, "%s/%s", voldir, name);
  struct stat st;
  int exists = valid_name(name) && stat(mp, &st) == 0;
  if (!strcmp(method, "Plugin.Activate")) return reply(fd, 200, "{\"Implements\":[\"VolumeDriver\"]}");
  if (!strcmp(method, "Capabilities")) {
    snprintf(out, sizeof out, "{\"Capabilities\":{\"Scope\":\"%s\"}}", scope);
    return reply(fd, 200, out);
  }
  if (!strcmp(method, "List")) {
    DIR *d = opendir(voldir);
    size_t o = snprintf(out, sizeof out, "{\"Volumes\":[");
    struct dirent *e;
    int first = 1;
    while (d && (e = readdir(d)) && o < sizeof out - 1024) {
      if (e->d_name[0] == '.') continue;
      o += snprintf(out + o, sizeof out - o, "%s{\"Name\":\"%s\",\"Mountpoint\":\"%s/%s\"}", first ? "" : ",", e->d_name, voldir, e->d_name);
      first = 0;
    }
    if (d) closedir(d);
    snprintf(out + o, sizeof out - o, "],\"Err\":\"\"}");
    return reply(fd, 200, out);
  }
  if (!valid_name(name)) return reply(fd, 200, "{\"Err\":\"bad volume name\"}");
  if (!strcmp(method, "Create")) {
    /* -o fail=1: a plugin refusing a create */
    if (strstr(body, "\"fail\"")) return reply(fd, 200, "{\"Err\":\"create refused by the test plugin\"}");
    if (mkdir(mp, 0755) != 0 && errno != EEXIST) return reply(fd, 500, "{\"Err\":\"mkdir failed\"}");
    return reply(fd, 200, "{\"Err\":\"\"}");
  }
  if (!exists) return reply(fd, 200, "{\"Err\":\"no such volume\"}");
  if (!strcmp(method, "Remove")) {
    nftw(mp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return reply(fd, 200, "{\"Err\":\"\"}");
  }
  if (!strcmp(method, "Mount") || !strcmp(method, "Path")) {
    snprintf(out, sizeof out, "{\"Mountpoint\":\"%s\",\"Err\":\"\"}", mp);
    return reply(fd, 200, out);
  }
  if (!strcmp(method, "Unmount")) return reply(fd, 200, "{\"Err\":\"\"}");
  if (!strcmp(method, "Get")) {
    snprintf(out, sizeof out, "{\"Volume\":{\"Name\":\"%s\",\"Mountpoint\":\"%s\",\"Status\":{\"backend\":\"test-plugin\"}},\"Err\":\"\"}", name, mp);
    return reply(fd, 200, out);
  }
  reply(fd, 404, "404 page not found\n");
}

int main(int argc, char **argv) {
  const char *sock = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--socket")) sock = argv[i + 1];
    else if (!strcmp(argv[i], "--dir")) dir = argv[i + 1];
    else if (!strcmp(argv[i], "--scope")) scope = argv[i + 1];
  }
  if (!sock || !dir) {
    fprintf(stderr, "usage: volume-plugin --socket PATH --dir DIR [--scope local|global]\n");
    return 2;
  }
  snprintf(voldir, sizeof voldir, "%s/volumes", dir);
  mkdir(dir, 0755);
  mkdir(voldir, 0755);
  signal(SIGCHLD, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(sock) >= sizeof a.sun_path) return fprintf(stderr, "socket path too long\n"), 2;
  strcpy(a.sun_path, sock);
  unlink(sock);
  if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 64) != 0) return perror("bind"), 1;
  pid_t parent = getpid();
  for (;;) {
    int c = accept(s, NULL, NULL);
    if (c < 0) continue;
    pid_t p = fork();
    if (p == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (getppid() != parent) _exit(0);
      close(s);
      handle(c);
      close(c);
      _exit(0);
    }
    close(c);
  }
}
