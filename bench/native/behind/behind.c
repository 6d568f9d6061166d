/* The clients of `npm run bench -- behind`, in one process (the native twin of
 * bench/lib/behind-client.ts, same flags, lines and report): --fast + --slow subscribers of --topic
 * and one publisher socket that pushes `m` at --rate a second for --duration seconds, each carrying
 * its sequence number `s`, its send time `t` (µs of CLOCK_MONOTONIC: the clock the subscribers read
 * too), its key `k` (s mod --keys) and --bytes of body. The slow subscribers read their TCP sockets
 * at --slow-share of the stream's byte rate: a token bucket that takes a socket out of epoll when it
 * runs dry and puts it back when it would have refilled (the loop's epoll_wait timeout, no timer per
 * socket). Once the publisher stops they read freely until every subscriber still connected has the
 * last message, or --release-s passes. Prints "ready", "traffic-end", then one JSON line
 * (BehindClientReport).
 *
 * A message's numbers are read at their known places (after {"s": and the last "_o":) rather than
 * by parsing its JSON; frames under 200 bytes (replies, history_gap, phx_error) are parsed for
 * their event. Every table is sized from the flags at the start: sockets, and per subscriber one
 * byte per message it can be sent.
 *
 *   behind --port 4000 --topic bh:1 --kind history --fast 900 --slow 100 [--rate 500] [--bytes 1024]
 *          [--duration 40] [--warmup 2] [--slow-share 0.1] [--keys 100] [--release-s 120]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../byte-buffer.h"
#include "../wsframe.h"

enum { CONNECTING, HANDSHAKE, JOINING, JOINED, CLOSED };

/* Why a connection ended: a close frame's code (>= 0), or one of these. */
enum { OPEN = -100, CLOSE_NO_CODE = -1, CLOSE_TCP = -2, CLOSE_REFUSED = -3, CLOSE_PHX_ERROR = -4, CLOSE_PHX_CLOSE = -5 };

#define HIST_STEP_US 10
#define HIST_BUCKETS 500000 /* up to 5 s */
#define SLOW_READ_BYTES 65536 /* what one read of a throttled socket takes at most (a Node socket's chunk) */
#define TOKENS_START 16384.0
#define TOKENS_MAX 65536.0

typedef struct {
    int fd, state, slow, closed_with;
    int reading; /* EPOLLIN registered */
    byte_buffer in, out;
    uint8_t *seen; /* per message id: 0 never, 1 received, 2 skipped by a history_gap */
    int32_t *last_by_key;
    long max_seen, received, duplicates, out_of_order, gaps, lag_at_traffic_end;
    int throttled, paused;
    double tokens;
    uint64_t refilled_at, resume_at;
} client;

/* Flags. */
static int port = 4000, fast_count = 900, slow_count = 100, keys = 100, conflate;
static const char *topic = "bh:1";
static double rate = 500, duration_s = 40, warmup_s = 2, slow_share = 0.1, release_s = 120;
static long body_bytes = 1024;

static client *clients; /* subscribers [0, total), the publisher at [total] */
static int total;
static long capacity, warmup_messages, sent;
static double slow_bytes_per_second;
static uint32_t *histogram;
static uint32_t *complete_max_us;
static uint16_t *complete_count;
static int ep;
static int *slow_list, n_slow; /* the slow subscribers' indices */

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *table(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p) { perror("calloc"); exit(2); }
    return p;
}

/* floor and ceil of non-negative numbers, without libm (compileNative links none). */
static long floor_of(double x) { return (long)x; }
static long ceil_of(double x) {
    long n = (long)x;
    return (double)n < x ? n + 1 : n;
}

static long last_id(void) { return sent - 1; }

static int is_done(const client *c) { return c->closed_with != OPEN || (sent > 0 && c->seen[last_id()] == 1); }

static void watch(client *c, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - clients)};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A paused socket leaves epoll altogether: one the node closed meanwhile would otherwise wake
 * every epoll_wait (EPOLLHUP) until its tokens are back. */
static void stop_reading(client *c) {
    if (!c->reading || c->fd < 0) return;
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->reading = 0;
}

static void start_reading(client *c) {
    if (c->reading || c->fd < 0) return;
    struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)(c - clients)};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->reading = 1;
}

static void end_connection(client *c, int why) {
    if (c->closed_with == OPEN) c->closed_with = why;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = CLOSED;
}

static void send_text(client *c, const char *text, size_t len) {
    if (c->fd >= 0) send_text_frame(&c->out, c->fd, text, len);
}

/* The unsigned integer written at p (a quote before it skipped), and where it ends. */
static long read_int(const char *p, const char *end, const char **after) {
    long n = 0;
    if (p < end && *p == '"') p++;
    while (p < end && *p >= '0' && *p <= '9') n = n * 10 + (*p++ - '0');
    if (after) *after = p;
    return n;
}

/* Element `index` (< 4) of a Phoenix frame [join_ref, ref, topic, event, payload] when a string
 * (empty for null), copied into out. */
static void frame_element(const char *s, size_t len, int index, char *out, size_t cap) {
    const char *p = s, *end = s + len;
    out[0] = 0;
    if (p >= end || *p != '[') return;
    p++;
    for (int i = 0; i <= index && p < end; i++) {
        while (p < end && (*p == ' ' || *p == ',')) p++;
        if (p < end && *p == '"') {
            const char *from = ++p;
            while (p < end && *p != '"') p += *p == '\\' ? 2 : 1;
            if (i == index) {
                size_t n = (size_t)(p - from) < cap - 1 ? (size_t)(p - from) : cap - 1;
                memcpy(out, from, n);
                out[n] = 0;
            }
            p++;
        } else {
            while (p < end && *p != ',') p++;
        }
    }
}

static int joined_count;

static void on_message(client *c, long id, long t_us, long key) {
    if (id < 0 || id > capacity) return;
    c->received++;
    if (c->seen[id] == 1) c->duplicates++;
    else if (id < c->max_seen) c->out_of_order++;
    c->seen[id] = 1;
    if (id > c->max_seen) c->max_seen = id;
    if (conflate && key >= 0 && key < keys) {
        if (c->last_by_key[key] > id) c->out_of_order++;
        c->last_by_key[key] = (int32_t)id;
    }
    if (!c->slow && id >= warmup_messages && id < capacity) {
        double latency_us = (double)now_ns() / 1000.0 - (double)t_us;
        long bucket = latency_us <= 0 ? 0 : floor_of(latency_us / HIST_STEP_US);
        histogram[bucket < 0 ? 0 : bucket >= HIST_BUCKETS ? HIST_BUCKETS - 1 : bucket]++;
        uint32_t l = latency_us <= 0 ? 0 : latency_us >= 4e9 ? UINT32_MAX : (uint32_t)latency_us;
        if (l > complete_max_us[id]) complete_max_us[id] = l;
        complete_count[id]++;
    }
}

static void on_small_frame(client *c, const char *s, size_t len) {
    char ref[16], event[32];
    frame_element(s, len, 1, ref, sizeof ref);
    frame_element(s, len, 3, event, sizeof event);
    if (!strcmp(event, "phx_reply") && !strcmp(ref, "1")) {
        if (!memmem(s, len, "\"status\":\"ok\"", 13)) {
            fprintf(stderr, "join refused: %.*s\n", (int)len, s);
            exit(1);
        }
        if (c->state == JOINING) {
            c->state = JOINED;
            joined_count++;
        }
    } else if (!strcmp(event, "history_gap")) {
        c->gaps++;
        const char *f = memmem(s, len, "\"from\":", 7), *o = memmem(s, len, "\"_o\":", 5);
        long from = f ? read_int(f + 7, s + len, NULL) : 0, to = o ? read_int(o + 5, s + len, NULL) : 0;
        /* Offsets from+1…to are skipped: ids from…to-1. */
        for (long id = from; id < to && id <= capacity; id++)
            if (!c->seen[id]) c->seen[id] = 2;
    } else if (!strcmp(event, "phx_error")) {
        if (c->closed_with == OPEN) c->closed_with = CLOSE_PHX_ERROR;
    } else if (!strcmp(event, "phx_close")) {
        if (c->closed_with == OPEN) c->closed_with = CLOSE_PHX_CLOSE;
    }
}

static void on_frame(client *c, const char *s, size_t len) {
    const char *p = len >= 200 ? memmem(s, len, "{\"s\":", 5) : NULL;
    if (!p) { on_small_frame(c, s, len); return; }
    const char *end = s + len, *after_s, *after_t;
    long seq = read_int(p + 5, end, &after_s);
    long t = read_int(after_s + 5, end, &after_t);
    long key = read_int(after_t + 5, end, NULL);
    long id = seq;
    if (!conflate) {
        id = -1;
        for (const char *o = end - 5; o > s; o--)
            if (o[0] == '"' && o[1] == '_' && o[2] == 'o' && o[3] == '"' && o[4] == ':') { id = read_int(o + 5, end, NULL) - 1; break; }
    }
    on_message(c, id, t, key);
}

/* Handles the complete frames in [data, data + len); returns the bytes they took (all once closed). */
static size_t on_frames(client *c, const char *data, size_t len) {
    size_t at = 0;
    while (at < len) {
        ws_frame f;
        int r = ws_decode(data + at, len - at, &f);
        if (r == 0) break;
        if (r < 0) { end_connection(c, CLOSE_NO_CODE); return len; }
        if (f.opcode == WS_CLOSE) {
            const uint8_t *b = (const uint8_t *)f.payload;
            end_connection(c, f.len >= 2 ? (b[0] << 8) | b[1] : CLOSE_NO_CODE);
            return len;
        }
        if (f.opcode == WS_TEXT || f.opcode == WS_BINARY) on_frame(c, f.payload, f.len);
        at += f.frame_len;
    }
    return at;
}

static void send_join(client *c) {
    char msg[256];
    int n = snprintf(msg, sizeof msg, "[\"1\",\"1\",\"%s\",\"phx_join\",{}]", topic);
    c->state = JOINING;
    send_text(c, msg, (size_t)n);
}

/* Bytes read from c's socket: the handshake's answer, then frames (partial ones kept in c->in). */
static void receive(client *c, const char *data, size_t len) {
    if (c->state == HANDSHAKE) {
        byte_buffer_append(&c->in, data, len);
        const char *head_end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
        if (!head_end) return;
        if (c->in.len < 12 || memcmp(c->in.data, "HTTP/1.1 101", 12) != 0) { end_connection(c, CLOSE_REFUSED); return; }
        size_t off = (size_t)(head_end - c->in.data) + 4;
        memmove(c->in.data, c->in.data + off, c->in.len - off);
        c->in.len -= off;
        send_join(c);
        data = NULL;
        len = 0;
    }
    if (c->in.len == 0 && len > 0) {
        size_t used = on_frames(c, data, len);
        if (c->fd >= 0 && used < len) byte_buffer_append(&c->in, data + used, len - used);
        return;
    }
    if (len > 0) byte_buffer_append(&c->in, data, len);
    size_t used = on_frames(c, c->in.data, c->in.len);
    if (c->fd < 0) { c->in.len = 0; return; }
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= used;
}

/* A throttled subscriber spent `bytes`: out of tokens, it stops reading until they would be back. */
static void spend(client *c, size_t bytes) {
    uint64_t now = now_ns();
    c->tokens += (double)(now - c->refilled_at) / 1e9 * slow_bytes_per_second;
    if (c->tokens > TOKENS_MAX) c->tokens = TOKENS_MAX;
    c->refilled_at = now;
    c->tokens -= (double)bytes;
    if (c->tokens >= 0 || c->paused) return;
    c->paused = 1;
    stop_reading(c);
    c->resume_at = now + (uint64_t)ceil_of(-c->tokens / slow_bytes_per_second * 1000.0) * 1000000ull;
}

static void resume(client *c) {
    c->paused = 0;
    c->refilled_at = now_ns();
    c->tokens = 0;
    start_reading(c);
}

/* Slow while the traffic runs (bytes_per_second > 0), free after. */
static void throttle(client *c, double bytes_per_second) {
    c->throttled = bytes_per_second > 0;
    c->tokens = TOKENS_START;
    c->refilled_at = now_ns();
    if (!c->throttled && c->paused) resume(c);
}

static void on_event(struct epoll_event *e) {
    static char rbuf[1 << 18];
    client *c = &clients[e->data.u32];
    if (c->fd < 0) return;
    if (c->state == CONNECTING) {
        if (!(e->events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) { end_connection(c, CLOSE_TCP); return; }
        c->state = HANDSHAKE;
        char request[512];
        int n = ws_handshake_request(request, sizeof request, "127.0.0.1", port, "/socket/websocket?vsn=2.0.0");
        byte_buffer_append(&c->out, request, (size_t)n);
        byte_buffer_flush(&c->out, c->fd);
        watch(c, EPOLLIN);
        return;
    }
    if (!c->reading) return;
    size_t want = c->throttled ? SLOW_READ_BYTES : sizeof rbuf;
    ssize_t k = read(c->fd, rbuf, want);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) { end_connection(c, CLOSE_TCP); return; }
    if (k < 0) return;
    if (c->throttled) spend(c, (size_t)k);
    receive(c, rbuf, (size_t)k);
}

static void open_client(client *c) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) { perror("socket"); exit(2); }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    connect(c->fd, (struct sockaddr *)&server, sizeof server);
    c->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)(c - clients)};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    c->reading = 1;
}

/* One turn of the loop: waits at most timeout_ms, handles what is ready, resumes the slow sockets
 * whose tokens are back, writes what the sockets could not take before. */
static void turn(int timeout_ms) {
    static struct epoll_event events[1024];
    static uint64_t flushed_at;
    uint64_t now = now_ns();
    for (int s = 0; s < n_slow; s++) {
        client *c = &clients[slow_list[s]];
        if (!c->paused) continue;
        if (c->resume_at <= now) resume(c);
        else {
            int until = (int)((c->resume_at - now + 999999) / 1000000);
            if (until < timeout_ms) timeout_ms = until;
        }
    }
    int n = epoll_wait(ep, events, 1024, timeout_ms);
    for (int e = 0; e < n; e++) on_event(&events[e]);
    client *publisher = &clients[total];
    if (publisher->out.len > 0 && publisher->fd >= 0) byte_buffer_flush(&publisher->out, publisher->fd);
    /* A subscriber sends little (its join, heartbeats): what its socket did not take waits a bit. */
    if (now - flushed_at < 100000000ull) return;
    flushed_at = now;
    for (int i = 0; i < total; i++)
        if (clients[i].out.len > 0 && clients[i].fd >= 0) byte_buffer_flush(&clients[i].out, clients[i].fd);
}

static void heartbeat(uint64_t *last) {
    uint64_t now = now_ns();
    if (now - *last < 20000000000ull) return;
    *last = now;
    const char *hb = "[null,\"hb\",\"phoenix\",\"heartbeat\",{}]";
    for (int i = 0; i <= total; i++) if (clients[i].state == JOINED && clients[i].closed_with == OPEN) send_text(&clients[i], hb, strlen(hb));
}

static int settled(const client *c) { return c->state == JOINED || c->closed_with != OPEN; }

static double percentile_of_histogram(double q) {
    uint64_t all = 0, seen = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) all += histogram[i];
    uint64_t rank = (uint64_t)ceil_of((double)all * q);
    for (int i = 0; i < HIST_BUCKETS && all > 0; i++) {
        seen += histogram[i];
        if (seen >= rank) return (i + 0.5) * HIST_STEP_US / 1000.0;
    }
    return 0;
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int by_long(const void *a, const void *b) {
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static double percentile(const double *sorted, long n, double q) {
    if (n == 0) return 0;
    long at = ceil_of((double)n * q) - 1;
    return sorted[at < 0 ? 0 : at >= n ? n - 1 : at];
}

static void print_closed_key(int why, int *first) {
    printf("%s", *first ? "" : ",");
    *first = 0;
    switch (why) {
    case CLOSE_NO_CODE: printf("\"close\""); break;
    case CLOSE_TCP: printf("\"tcp\""); break;
    case CLOSE_REFUSED: printf("\"refused\""); break;
    case CLOSE_PHX_ERROR: printf("\"phx_error\""); break;
    case CLOSE_PHX_CLOSE: printf("\"phx_close\""); break;
    default: printf("\"%d\"", why);
    }
}

/* The GroupReport of the subscribers that are slow (or not). */
static void print_group(int slow) {
    long clients_n = 0, missing = 0, duplicates = 0, out_of_order = 0, gaps = 0, skipped = 0, wrong_keys = 0, received = 0, complete = 0;
    long *lags = table((size_t)total, sizeof(long));
    int reasons[64], reason_counts[64], n_reasons = 0;
    for (int i = 0; i < total; i++) {
        client *c = &clients[i];
        if (c->slow != slow) continue;
        if (c->closed_with != OPEN) {
            int r = 0;
            while (r < n_reasons && reasons[r] != c->closed_with) r++;
            if (r == n_reasons && n_reasons < 64) { reasons[n_reasons] = c->closed_with; reason_counts[n_reasons++] = 0; }
            if (r < n_reasons) reason_counts[r]++;
        }
        duplicates += c->duplicates;
        out_of_order += c->out_of_order;
        gaps += c->gaps;
        received += c->received;
        if (sent > 0 && c->seen[last_id()] == 1) complete++;
        lags[clients_n++] = c->lag_at_traffic_end;
        if (conflate && slow) {
            /* The latest of every key, each key's values in order (counted above); not every message. */
            for (long key = 0; key < keys; key++) {
                long expected = last_id() - ((((last_id() - key) % keys) + keys) % keys);
                if (expected >= 0 && c->last_by_key[key] != expected) wrong_keys++;
            }
        } else {
            for (long id = 0; id < sent; id++) {
                if (c->seen[id] == 0) missing++;
                else if (c->seen[id] == 2) skipped++;
            }
        }
    }
    qsort(lags, (size_t)clients_n, sizeof(long), by_long);
    printf("{\"clients\":%ld,\"closed\":{", clients_n);
    int first = 1;
    for (int r = 0; r < n_reasons; r++) {
        print_closed_key(reasons[r], &first);
        printf(":%d", reason_counts[r]);
    }
    printf("},\"missing\":%ld,\"duplicates\":%ld,\"outOfOrder\":%ld,\"historyGaps\":%ld,\"skippedByGaps\":%ld,\"wrongKeys\":%ld,"
           "\"received\":%ld,\"complete\":%ld,\"lagAtTrafficEndMedian\":%ld}",
           missing, duplicates, out_of_order, gaps, skipped, wrong_keys, received, complete, clients_n ? lags[clients_n >> 1] : 0);
    free(lags);
}

static double cpu_seconds(void) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + (double)u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6;
}

static void line(const char *text) {
    printf("%s\n", text);
    fflush(stdout);
}

int main(int argc, char **argv) {
    /* Ends with its parent, however the parent ends. */
    pid_t parent = getppid();
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) return 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *f = argv[i], *v = argv[i + 1];
        if (!strcmp(f, "--port")) port = atoi(v);
        else if (!strcmp(f, "--topic")) topic = v;
        else if (!strcmp(f, "--kind")) conflate = !strcmp(v, "conflate");
        else if (!strcmp(f, "--fast")) fast_count = atoi(v);
        else if (!strcmp(f, "--slow")) slow_count = atoi(v);
        else if (!strcmp(f, "--rate")) rate = atof(v);
        else if (!strcmp(f, "--bytes")) body_bytes = atol(v);
        else if (!strcmp(f, "--duration")) duration_s = atof(v);
        else if (!strcmp(f, "--warmup")) warmup_s = atof(v);
        else if (!strcmp(f, "--slow-share")) slow_share = atof(v);
        else if (!strcmp(f, "--keys")) keys = atoi(v);
        else if (!strcmp(f, "--release-s")) release_s = atof(v);
        else { fprintf(stderr, "unknown flag %s\n", f); return 2; }
    }
    total = fast_count + slow_count;
    if (total <= 0 || total > 60000 || keys <= 0 || rate <= 0 || body_bytes < 0 || strlen(topic) > 100) {
        fprintf(stderr, "bad flags: --fast + --slow in 1..60000, --keys and --rate > 0\n");
        return 2;
    }
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }

    /* Sent at most this many messages (a bound on every per-message table). */
    capacity = ceil_of(rate * duration_s * 1.2) + 1000;
    warmup_messages = floor_of(rate * warmup_s);
    histogram = table(HIST_BUCKETS, sizeof(uint32_t));
    complete_max_us = table((size_t)capacity + 1, sizeof(uint32_t));
    complete_count = table((size_t)capacity + 1, sizeof(uint16_t));
    clients = table((size_t)total + 1, sizeof(client));
    slow_list = table((size_t)total, sizeof(int));
    /* Slow ones spread among the fast ones. */
    double stride = slow_count > 0 ? (double)total / slow_count : INFINITY;
    int slow_assigned = 0;
    for (int i = 0; i <= total; i++) {
        client *c = &clients[i];
        c->fd = -1;
        c->closed_with = OPEN;
        c->max_seen = -1;
        c->seen = table((size_t)capacity + 2, 1);
        c->last_by_key = table(conflate ? (size_t)keys : 1, sizeof(int32_t));
        for (int k = 0; k < (conflate ? keys : 0); k++) c->last_by_key[k] = -1;
        if (i < total && slow_count > 0 && floor_of(i - stride * (double)floor_of(i / stride)) == 0 && slow_assigned < slow_count) {
            c->slow = 1;
            slow_list[n_slow++] = i;
            slow_assigned++;
        }
    }
    ep = epoll_create1(0);
    uint64_t last_heartbeat = now_ns();

    /* At most 100 handshakes in flight. */
    for (int at = 0; at < total; at += 100) {
        int end = at + 100 < total ? at + 100 : total;
        for (int i = at; i < end; i++) open_client(&clients[i]);
        for (;;) {
            int all = 1;
            for (int i = at; i < end && all; i++) all = settled(&clients[i]);
            if (all) break;
            heartbeat(&last_heartbeat);
            turn(5);
        }
    }
    client *publisher = &clients[total];
    open_client(publisher);
    while (!settled(publisher)) {
        heartbeat(&last_heartbeat);
        turn(5);
    }
    if (publisher->state != JOINED) { fprintf(stderr, "the publisher could not join\n"); return 1; }
    line("ready");

    /* The stream's bytes per second, and --slow-share of it for the slow ones. */
    long frame_bytes = body_bytes + 110 + (long)strlen(topic);
    slow_bytes_per_second = rate * (double)frame_bytes * slow_share;
    for (int i = 0; i < total; i++) if (clients[i].slow) throttle(&clients[i], slow_bytes_per_second);

    size_t message_cap = (size_t)body_bytes + 256 + strlen(topic);
    char *message = table(message_cap, 1), *frame = table(message_cap + 16, 1);
    double cpu_before = cpu_seconds();
    uint64_t started = now_ns();
    long limit = floor_of(rate * duration_s);
    while (sent < limit) {
        uint64_t now = now_ns();
        long due = floor_of((double)(now - started) / 1e9 * rate);
        if (due > limit) due = limit;
        for (; sent < due; sent++) {
            long t = (long)(now_ns() / 1000);
            int head = snprintf(message, message_cap, "[null,\"%ld\",\"%s\",\"m\",{\"s\":%ld,\"t\":%ld,\"k\":%ld,\"b\":\"", sent + 1, topic, sent, t,
                                sent % keys);
            memset(message + head, 'x', (size_t)body_bytes);
            size_t len = (size_t)head + (size_t)body_bytes;
            memcpy(message + len, "\"}]", 3);
            len += 3;
            size_t n = ws_encode(WS_TEXT, message, len, frame);
            byte_buffer_append(&publisher->out, frame, n);
            byte_buffer_flush(&publisher->out, publisher->fd);
        }
        if (sent >= limit) break;
        /* Until the next message is due. */
        uint64_t next = started + (uint64_t)ceil_of((double)(sent + 1) / rate * 1e9);
        now = now_ns();
        int wait_ms = next > now ? (int)((next - now + 999999) / 1000000) : 0;
        heartbeat(&last_heartbeat);
        turn(wait_ms);
    }
    double traffic_seconds = (double)(now_ns() - started) / 1e9;
    double cpu = cpu_seconds() - cpu_before;
    for (int i = 0; i < total; i++) {
        long lag = sent - 1 - clients[i].max_seen;
        clients[i].lag_at_traffic_end = lag > 0 ? lag : 0;
    }
    line("traffic-end");

    /* Everyone reads freely until every subscriber still connected has the last message. */
    uint64_t released_at = now_ns();
    for (int i = 0; i < total; i++) if (clients[i].slow) throttle(&clients[i], 0);
    uint64_t release_deadline = released_at + (uint64_t)(release_s * 1e9);
    for (;;) {
        int all = 1;
        for (int i = 0; i < total && all; i++) all = is_done(&clients[i]);
        if (all || now_ns() >= release_deadline) break;
        heartbeat(&last_heartbeat);
        turn(10);
    }
    double release_seconds = (double)(now_ns() - released_at) / 1e9;

    long fast_open = 0;
    for (int i = 0; i < total; i++) if (!clients[i].slow && clients[i].closed_with == OPEN) fast_open++;
    double *completes = table((size_t)capacity + 1, sizeof(double));
    long n_completes = 0;
    for (long id = warmup_messages; id < sent; id++)
        if (complete_count[id] == fast_open) completes[n_completes++] = complete_max_us[id] / 1000.0;
    qsort(completes, (size_t)n_completes, sizeof(double), by_value);
    uint64_t samples = 0;
    for (int i = 0; i < HIST_BUCKETS; i++) samples += histogram[i];

    printf("{\"sent\":%ld,\"fast\":", sent);
    print_group(0);
    printf(",\"slow\":");
    print_group(1);
    printf(",\"latencyMs\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"samples\":%lu}", percentile_of_histogram(0.5), percentile_of_histogram(0.99),
           percentile_of_histogram(0.999), (unsigned long)samples);
    printf(",\"completeMs\":{\"p50\":%.3f,\"p99\":%.3f,\"broadcasts\":%ld}", percentile(completes, n_completes, 0.5), percentile(completes, n_completes, 0.99),
           n_completes);
    printf(",\"clientCpuShare\":%.4f,\"releaseSeconds\":%.3f}\n", traffic_seconds > 0 ? cpu / traffic_seconds : 0, release_seconds);
    fflush(stdout);
    for (int i = 0; i <= total; i++) if (clients[i].fd >= 0) close(clients[i].fd);
    return 0;
}
