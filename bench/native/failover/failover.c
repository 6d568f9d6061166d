/* Failover client, one process: its share of the failover benchmark's Phoenix-protocol clients
 * (bench/scenarios/failover.ts). Client i starts on node i mod 2 and joins history room
 * "room:fo<i mod rooms>" (V2 JSON, {"user":"fo","presence":false}); when its socket closes, its
 * connect fails, its upgrade is refused or does not finish in 10 s, it reconnects as phoenix.js
 * does (after 10, 50, 100, 150, 200, 250, 500, 1000, 2000, then 5000 ms; each attempt to the next
 * node, as behind a load balancer) and rejoins with "_since" (its last offset and epoch). A join
 * not answered in 10 s is sent again on the same backoff. Each room message's offset is checked
 * against the one before (a hole counts missing, a repeat duplicated; those up to the join reply's
 * offset are the replay of a recovered rejoin), and its latency is the push's send time (the body
 * "<sequence>:<ms>", CLOCK_MONOTONIC as the publisher writes it: one clock for every process on
 * the machine) to its arrival, per phase, apart for clients that never lost their socket
 * ("stayed") and those that did ("moved"). Fixed tables sized at the start; the process dies
 * with its parent.
 *
 *   failover --ports P1,P2 --from F --to T --rooms R [--source 127.0.0.2] [--per-source 4000]
 * Stdin, one command a line: "phase before|during|after"; "top <room> <offset> <epoch>" for every
 * room, then "finish <timeout ms>": once every client has its room's last offset (or the time is
 * up), one JSON report on stdout and exit; "quit" (or end of input): exit. Stderr: a line
 * "status {…}" every 200 ms (JSON: joined, moved, movedJoined, refused503, failed,
 * handshakeTimeouts, joinTimeouts, lastJoinedAt in epoch ms), and diagnostics.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
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

#define MS 1000000ull
static const uint64_t RECONNECT_AFTER_MS[] = {10, 50, 100, 150, 200, 250, 500, 1000, 2000};
#define RECONNECT_STEPS (sizeof RECONNECT_AFTER_MS / sizeof RECONNECT_AFTER_MS[0])
#define RECONNECT_LAST_MS 5000
#define JOIN_TIMEOUT_MS 10000     /* phoenix.js's default push and join timeout */
#define HANDSHAKE_TIMEOUT_MS 10000 /* from connect() until the 101: a half-open socket is given up */
#define HEARTBEAT_MS 30000
#define STATUS_MS 200
#define OPEN_BATCH 200 /* clients opened every 20 ms at the start: a burst would overflow the listen backlog */
#define MAX_LATENCY_MS 30000
#define MAX_EPOCH 65
#define MAX_ROOMS 100000

enum { IDLE, CONNECTING, HANDSHAKE, OPEN };
enum { NO_TIMER, RECONNECT, HANDSHAKE_TIMEOUT, JOIN_TIMEOUT, REJOIN };
enum { BEFORE, DURING, AFTER, PHASES };
static const char *PHASE_NAMES[PHASES] = {"before", "during", "after"};

typedef struct {
    int fd, state, room, port, want_out;
    int attempts, rejoins, join_ref, ref;
    int timer;
    uint64_t timer_at, heartbeat_at;
    int has_last, joined, moved;
    long last_o, replay_until;
    char last_e[MAX_EPOCH];
    byte_buffer in, frag, out;
} client;

typedef struct { long o; char e[MAX_EPOCH]; int known; } top;

static client *clients;
static int n_clients, n_rooms, n_ports, ports[2];
static int ep;
static int phase = BEFORE;
static struct sockaddr_in servers[2];
static in_addr_t first_source;
static int per_source = 4000;
static char request[2][512];
static int request_len[2];
static uint64_t next_due; /* the earliest timer of any client (0 = scan now) */
static long refused503, failed, handshake_timeouts, join_timeouts;
static uint64_t last_joined_at_ms;
static long messages_received;
static uint64_t started_ns;
static long missing, duplicated, not_recovered, recovered, replayed, epoch_changes;
static uint32_t latency[PHASES][2][MAX_LATENCY_MS + 1]; /* [phase][moved][ms] */
static top *tops;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t epoch_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

static uint64_t backoff_ms(int attempt) { return attempt < (int)RECONNECT_STEPS ? RECONNECT_AFTER_MS[attempt] : RECONNECT_LAST_MS; }

static void set_timer(client *c, int kind, uint64_t at) {
    c->timer = kind;
    c->timer_at = at;
    if (at < next_due) next_due = at;
}

static void watch(client *c, int i, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Sends one text frame; what the socket does not take now goes when it is writable. */
static void send_text(client *c, int i, const char *text, size_t len) {
    send_text_frame(&c->out, c->fd, text, len);
    if (c->out.len > 0 && !c->want_out) {
        c->want_out = 1;
        watch(c, i, EPOLLIN | EPOLLOUT);
    }
}

static void connect_client(int i) {
    client *c = &clients[i];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (c->fd < 0) { perror("socket"); exit(2); }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* The port is chosen at connect(), per destination: reconnects to the survivor do not run out. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
    local.sin_addr.s_addr = htonl(ntohl(first_source) + (uint32_t)(i / per_source));
    if (bind(c->fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); exit(2); }
    c->state = CONNECTING;
    c->want_out = 0;
    c->in.len = c->frag.len = c->out.len = 0;
    connect(c->fd, (struct sockaddr *)&servers[c->port], sizeof servers[c->port]);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)i};
    epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
    set_timer(c, HANDSHAKE_TIMEOUT, now_ns() + HANDSHAKE_TIMEOUT_MS * MS);
}

/* The socket is gone (closed, refused, timed out): the next node after the backoff. */
static void closed(int i) {
    client *c = &clients[i];
    if (c->fd >= 0) close(c->fd); /* also takes it out of epoll */
    c->fd = -1;
    c->state = IDLE;
    c->joined = 0;
    c->moved = 1;
    uint64_t delay = backoff_ms(c->attempts++);
    c->port = (c->port + 1) % n_ports;
    set_timer(c, RECONNECT, now_ns() + delay * MS);
}

static void join(int i) {
    client *c = &clients[i];
    char msg[256];
    int ref = ++c->join_ref;
    int len;
    if (c->has_last)
        len = snprintf(msg, sizeof msg, "[\"%d\",\"%d\",\"room:fo%d\",\"phx_join\",{\"user\":\"fo\",\"presence\":false,\"_since\":{\"o\":%ld,\"e\":\"%s\"}}]",
                       ref, ref, c->room, c->last_o, c->last_e);
    else
        len = snprintf(msg, sizeof msg, "[\"%d\",\"%d\",\"room:fo%d\",\"phx_join\",{\"user\":\"fo\",\"presence\":false}]", ref, ref, c->room);
    send_text(c, i, msg, (size_t)len);
    set_timer(c, JOIN_TIMEOUT, now_ns() + JOIN_TIMEOUT_MS * MS);
}

static void rejoin_later(int i) {
    client *c = &clients[i];
    set_timer(c, REJOIN, now_ns() + backoff_ms(c->rejoins++) * MS);
}

static void opened(int i) {
    client *c = &clients[i];
    c->state = OPEN;
    c->attempts = 0;
    c->heartbeat_at = now_ns() + HEARTBEAT_MS * MS;
    join(i);
}

/* The value of "key": (a number, or true/false) in [s, end); returns 0 when absent. */
static int number_after(const char *s, const char *end, const char *key, long *value) {
    const char *k = memmem(s, (size_t)(end - s), key, strlen(key));
    if (!k) return 0;
    k += strlen(key);
    if (k < end && *k == 't') { *value = 1; return 1; }
    if (k < end && *k == 'f') { *value = 0; return 1; }
    long v = 0;
    int any = 0;
    for (; k < end && *k >= '0' && *k <= '9'; k++, any = 1) v = v * 10 + (*k - '0');
    *value = v;
    return any;
}

/* The string value of "key":"…" in [s, end) copied to out (empty when absent). */
static void string_after(const char *s, const char *end, const char *key, char *out) {
    out[0] = 0;
    const char *k = memmem(s, (size_t)(end - s), key, strlen(key));
    if (!k) return;
    k += strlen(key);
    const char *q = memchr(k, '"', (size_t)(end - k));
    if (!q || q - k >= MAX_EPOCH) return;
    memcpy(out, k, (size_t)(q - k));
    out[q - k] = 0;
}

/* The answer to this client's latest join, ignored unless it is that. */
static void reply(int i, const char *s, size_t len) {
    client *c = &clients[i];
    const char *end = s + len;
    char prefix[48];
    int n = snprintf(prefix, sizeof prefix, "[\"%d\",\"%d\",", c->join_ref, c->join_ref);
    if (len < (size_t)n || memcmp(s, prefix, (size_t)n) != 0) return;
    size_t head = len < 200 ? len : 200;
    if (!memmem(s, head, "\"phx_reply\"", 11)) return;
    /* the join's timer, or the rejoin its timeout had planned: an answer, late or not, ends both */
    if (c->timer == JOIN_TIMEOUT || c->timer == REJOIN) c->timer = NO_TIMER;
    if (!memmem(s, len, "\"status\":\"ok\"", 13)) { rejoin_later(i); return; }
    const char *r = memmem(s, len, "\"_recovery\":{", 13);
    if (!r) { fprintf(stderr, "room:fo%d keeps no history: its join reply has no _recovery\n", c->room); exit(3); }
    const char *r_end = memchr(r, '}', (size_t)(end - r));
    if (!r_end) r_end = end;
    long was_recovered = 0, o = 0;
    char e[MAX_EPOCH];
    number_after(r, r_end, "\"recovered\":", &was_recovered);
    number_after(r, r_end, "\"o\":", &o);
    string_after(r, r_end, "\"e\":\"", e);
    c->rejoins = 0;
    c->joined = 1;
    last_joined_at_ms = epoch_ms();
    if (!c->has_last) {
        c->has_last = 1;
        c->last_o = o;
        strcpy(c->last_e, e);
        return;
    }
    if (was_recovered) {
        recovered++;
        c->replay_until = o;
        return;
    }
    not_recovered++;
    if (!strcmp(e, c->last_e) && o > c->last_o) missing += o - c->last_o;
    c->last_o = o;
    strcpy(c->last_e, e);
}

/* A room message: its offset right after the last one, or counted missing (a hole) or duplicated. */
static void room_message(int i, const char *s, size_t len) {
    client *c = &clients[i];
    const char *end = s + len;
    const char *at = memmem(s, len, "\"_o\":", 5);
    if (!at) return;
    long o = 0;
    number_after(at, end, "\"_o\":", &o);
    char e[MAX_EPOCH];
    string_after(at, end, "\"_e\":\"", e);
    if (!c->has_last) return;
    if (strcmp(e, c->last_e) != 0) {
        epoch_changes++;
        c->last_o = o;
        strcpy(c->last_e, e);
        return;
    }
    if (o <= c->last_o) { duplicated++; return; }
    if (o > c->last_o + 1) missing += o - c->last_o - 1;
    c->last_o = o;
    if (o <= c->replay_until) { replayed++; return; }
    /* "body":"<sequence>:<send time, ms>" */
    const char *b = memmem(s, len, "\"body\":\"", 8);
    if (!b) return;
    b += 8;
    const char *colon = memchr(b, ':', (size_t)(end - b));
    if (!colon) return;
    for (const char *d = b; d < colon; d++) if (*d < '0' || *d > '9') return;
    char *stop;
    double sent = strtod(colon + 1, &stop);
    if (stop == colon + 1) return;
    double ms = (double)now_ns() / 1e6 - sent + 0.5;
    long bucket = ms < 0 ? 0 : ms > MAX_LATENCY_MS ? MAX_LATENCY_MS : (long)ms;
    latency[phase][c->moved][bucket]++;
}

static void on_message(void *context, const char *s, size_t len) {
    int i = (int)(intptr_t)context;
    if (clients[i].fd < 0) return;
    messages_received++;
    if (len >= 11 && memcmp(s, "[null,null,", 11) == 0) room_message(i, s, len);
    else reply(i, s, len);
}

/* Frames in [data, data + len); what is left of a frame stays in the client's input. */
static void frames(int i, const char *data, size_t len) {
    client *c = &clients[i];
    int was_closed;
    size_t used = decode_messages(data, len, &c->frag, on_message, (void *)(intptr_t)i, &was_closed);
    if (was_closed) { closed(i); return; }
    if (data == c->in.data) {
        memmove(c->in.data, c->in.data + used, len - used);
        c->in.len = len - used;
    } else if (used < len) {
        byte_buffer_append(&c->in, data + used, len - used);
    }
}

static void receive(int i, const char *data, size_t len) {
    client *c = &clients[i];
    if (c->state == HANDSHAKE) {
        byte_buffer_append(&c->in, data, len);
        const char *end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4);
        if (!end) return;
        if (c->in.len >= 12 && memcmp(c->in.data + 9, "101", 3) == 0) {
            size_t off = (size_t)(end - c->in.data) + 4;
            size_t rest = c->in.len - off;
            memmove(c->in.data, c->in.data + off, rest);
            c->in.len = 0;
            opened(i);
            if (rest > 0) {
                /* frames right behind the 101: decoded from a copy, as the input buffer is reused */
                char *copy = malloc(rest);
                memcpy(copy, c->in.data, rest);
                frames(i, copy, rest);
                free(copy);
            }
            return;
        }
        if (c->in.len >= 12 && memcmp(c->in.data + 9, "503", 3) == 0) refused503++;
        else failed++;
        closed(i);
        return;
    }
    if (c->in.len == 0) frames(i, data, len);
    else {
        byte_buffer_append(&c->in, data, len);
        frames(i, c->in.data, c->in.len);
    }
}

static void ready(int i, uint32_t events) {
    static char rbuf[1 << 16];
    client *c = &clients[i];
    if (c->fd < 0) return;
    if (c->state == CONNECTING) {
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err || (events & (EPOLLERR | EPOLLHUP))) { failed++; closed(i); return; }
        c->state = HANDSHAKE;
        watch(c, i, EPOLLIN);
        int p = c->port;
        byte_buffer_append(&c->out, request[p], (size_t)request_len[p]);
        byte_buffer_flush(&c->out, c->fd);
        if (c->out.len > 0) { c->want_out = 1; watch(c, i, EPOLLIN | EPOLLOUT); }
        return;
    }
    if ((events & EPOLLOUT) && c->want_out) {
        byte_buffer_flush(&c->out, c->fd);
        if (c->out.len == 0) { c->want_out = 0; watch(c, i, EPOLLIN); }
    }
    if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP))) return;
    for (int reads = 0; reads < 4 && c->fd >= 0; reads++) {
        ssize_t k = read(c->fd, rbuf, sizeof rbuf);
        if (k < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (k <= 0) {
            /* before the upgrade, a failure (ws: "socket hang up"); after it, only a close */
            if (c->state != OPEN) failed++;
            closed(i);
            return;
        }
        receive(i, rbuf, (size_t)k);
        if ((size_t)k < sizeof rbuf) return;
    }
}

/* Every client's due timer and heartbeat; returns the earliest one still to come. */
static uint64_t run_timers(uint64_t now) {
    uint64_t earliest = UINT64_MAX;
    for (int i = 0; i < n_clients; i++) {
        client *c = &clients[i];
        if (c->timer != NO_TIMER && c->timer_at <= now) {
            int kind = c->timer;
            c->timer = NO_TIMER;
            if (kind == RECONNECT) connect_client(i);
            else if (kind == HANDSHAKE_TIMEOUT && (c->state == CONNECTING || c->state == HANDSHAKE)) { handshake_timeouts++; closed(i); }
            else if (kind == JOIN_TIMEOUT && c->state == OPEN) { join_timeouts++; rejoin_later(i); }
            else if (kind == REJOIN && c->state == OPEN) join(i);
        }
        if (c->state == OPEN && c->heartbeat_at <= now) {
            char hb[64];
            int len = snprintf(hb, sizeof hb, "[null,\"%d\",\"phoenix\",\"heartbeat\",{}]", ++c->ref);
            send_text(c, i, hb, (size_t)len);
            c->heartbeat_at = now + HEARTBEAT_MS * MS;
        }
        if (c->timer != NO_TIMER && c->timer_at < earliest) earliest = c->timer_at;
        if (c->state == OPEN && c->heartbeat_at < earliest) earliest = c->heartbeat_at;
    }
    return earliest;
}

static void status(void) {
    long joined = 0, moved = 0, moved_joined = 0;
    for (int i = 0; i < n_clients; i++) {
        joined += clients[i].joined;
        moved += clients[i].moved;
        moved_joined += clients[i].moved && clients[i].joined;
    }
    fprintf(stderr,
            "status {\"joined\":%ld,\"moved\":%ld,\"movedJoined\":%ld,\"refused503\":%ld,\"failed\":%ld,\"handshakeTimeouts\":%ld,"
            "\"joinTimeouts\":%ld,\"lastJoinedAt\":%lu}\n",
            joined, moved, moved_joined, refused503, failed, handshake_timeouts, join_timeouts, (unsigned long)last_joined_at_ms);
}

static int caught_up(void) {
    for (int i = 0; i < n_clients; i++) {
        client *c = &clients[i];
        top *t = &tops[c->room];
        if (!c->has_last || !t->known || strcmp(c->last_e, t->e) != 0 || c->last_o < t->o) return 0;
    }
    return 1;
}

static void print_histogram(int p, int moved) {
    printf("[");
    int first = 1;
    for (int ms = 0; ms <= MAX_LATENCY_MS; ms++) {
        if (!latency[p][moved][ms]) continue;
        printf("%s[%d,%u]", first ? "" : ",", ms, latency[p][moved][ms]);
        first = 0;
    }
    printf("]");
}

/* The checks, with what each client is still short of its room's last offset counted missing. */
static void final_report(void) {
    long tail_missing = 0, moved = 0;
    for (int i = 0; i < n_clients; i++) {
        client *c = &clients[i];
        top *t = &tops[c->room];
        moved += c->moved;
        if (t->known && c->has_last && !strcmp(c->last_e, t->e) && c->last_o < t->o) tail_missing += t->o - c->last_o;
    }
    printf("{\"missing\":%ld,\"tailMissing\":%ld,\"duplicated\":%ld,\"notRecovered\":%ld,\"recovered\":%ld,\"replayed\":%ld,"
           "\"epochChanges\":%ld,\"moved\":%ld,\"histograms\":{",
           missing + tail_missing, tail_missing, duplicated, not_recovered, recovered, replayed, epoch_changes, moved);
    for (int p = 0; p < PHASES; p++) {
        printf("%s\"%s\":{\"stayed\":", p ? "," : "", PHASE_NAMES[p]);
        print_histogram(p, 0);
        printf(",\"moved\":");
        print_histogram(p, 1);
        printf("}");
    }
    printf("}}\n");
    fflush(stdout);
    /* Whether this process kept up: its CPU time against the time it ran. */
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu_s = (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
    fprintf(stderr, "%d clients, %ld messages received, %.1f s of CPU in %.1f s\n", n_clients, messages_received, cpu_s,
            (double)(now_ns() - started_ns) / 1e9);
}

/* Handles one line from the harness; returns the finish timeout (ms) on "finish", else -1. */
static long command(const char *line) {
    char word[16], arg[MAX_EPOCH];
    int room, got;
    long value;
    if (sscanf(line, "phase %15s", word) == 1) {
        for (int p = 0; p < PHASES; p++) if (!strcmp(word, PHASE_NAMES[p])) phase = p;
    } else if ((got = sscanf(line, "top %d %ld %64s", &room, &value, arg)) >= 2) {
        if (room < 0 || room >= n_rooms) return -1;
        if (got == 2) arg[0] = 0; /* a room with no history yet: no epoch */
        tops[room].o = value;
        strcpy(tops[room].e, arg);
        tops[room].known = 1;
    } else if (sscanf(line, "finish %ld", &value) == 1) {
        return value;
    } else if (!strncmp(line, "quit", 4)) {
        exit(0);
    }
    return -1;
}

/* Reads what stdin holds and handles each whole line; returns a finish timeout or -1. */
static long read_commands(void) {
    static char buf[1 << 16];
    static size_t have;
    ssize_t k = read(0, buf + have, sizeof buf - 1 - have);
    if (k == 0) exit(0); /* the harness is gone */
    if (k < 0) return -1;
    have += (size_t)k;
    long finish = -1;
    char *start = buf, *nl;
    while ((nl = memchr(start, '\n', have - (size_t)(start - buf)))) {
        *nl = 0;
        long f = command(start);
        if (f >= 0) finish = f;
        start = nl + 1;
    }
    have -= (size_t)(start - buf);
    memmove(buf, start, have);
    if (have == sizeof buf - 1) have = 0; /* a line longer than any command: dropped */
    return finish;
}

static int parse_ports(const char *list) {
    int n = 0;
    char copy[64];
    snprintf(copy, sizeof copy, "%s", list);
    for (char *p = strtok(copy, ","); p && n < 2; p = strtok(NULL, ",")) ports[n++] = atoi(p);
    return n;
}

int main(int argc, char **argv) {
    /* Dies with the harness, however it ends. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() == 1) return 1;
    signal(SIGPIPE, SIG_IGN);
    const char *path = "/socket/websocket?vsn=2.0.0", *source = "127.0.0.1";
    int from = 0, to = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--ports")) n_ports = parse_ports(argv[i + 1]);
        else if (!strcmp(argv[i], "--from")) from = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--to")) to = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--rooms")) n_rooms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--source")) source = argv[i + 1];
        else if (!strcmp(argv[i], "--per-source")) per_source = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
    }
    n_clients = to - from;
    if (n_ports < 1 || n_clients <= 0 || n_rooms <= 0 || n_rooms > MAX_ROOMS || per_source <= 0) {
        fprintf(stderr, "usage: failover --ports P1,P2 --from F --to T --rooms R [--source IP] [--per-source N]\n");
        return 2;
    }
    struct rlimit files;
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
        files.rlim_cur = files.rlim_max;
        setrlimit(RLIMIT_NOFILE, &files);
    }
    if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < (rlim_t)n_clients + 16)
        fprintf(stderr, "failover client: %d clients, but only %lu open files allowed\n", n_clients, (unsigned long)files.rlim_cur);
    clients = calloc((size_t)n_clients, sizeof(client));
    tops = calloc((size_t)n_rooms, sizeof(top));
    if (!clients || !tops) { perror("calloc"); return 2; }
    inet_pton(AF_INET, source, &first_source);
    for (int p = 0; p < n_ports; p++) {
        servers[p] = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)ports[p])};
        inet_pton(AF_INET, "127.0.0.1", &servers[p].sin_addr);
        request_len[p] = ws_handshake_request(request[p], sizeof request[p], "127.0.0.1", ports[p], path);
    }
    for (int i = 0; i < n_clients; i++) {
        client *c = &clients[i];
        c->fd = -1;
        c->room = (from + i) % n_rooms;
        c->port = (from + i) % n_ports;
    }
    ep = epoll_create1(0);
    struct epoll_event stdin_ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &stdin_ev);

    struct epoll_event events[1024];
    int opened_count = 0;
    started_ns = now_ns();
    uint64_t next_open = now_ns(), next_status = now_ns() + STATUS_MS * MS;
    uint64_t finish_at = 0, next_check = 0;
    next_due = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (opened_count < n_clients && now >= next_open) {
            for (int n = 0; n < OPEN_BATCH && opened_count < n_clients; n++) connect_client(opened_count++);
            next_open = now + 20 * MS;
        }
        if (now >= next_due) {
            next_due = UINT64_MAX; /* set_timer lowers it while the timers run */
            uint64_t earliest = run_timers(now);
            if (earliest < next_due) next_due = earliest;
        }
        if (now >= next_status) {
            status();
            next_status = now + STATUS_MS * MS;
        }
        if (finish_at && now >= next_check) {
            if (caught_up() || now >= finish_at) {
                final_report();
                return 0;
            }
            next_check = now + 100 * MS;
        }
        uint64_t wake = next_status;
        if (next_due < wake) wake = next_due;
        if (opened_count < n_clients && next_open < wake) wake = next_open;
        if (finish_at && next_check < wake) wake = next_check;
        now = now_ns();
        int timeout = wake <= now ? 0 : (int)((wake - now + MS - 1) / MS);
        int n = epoll_wait(ep, events, 1024, timeout);
        for (int e = 0; e < n; e++) {
            uint32_t i = events[e].data.u32;
            if (i == UINT32_MAX) {
                long f = read_commands();
                if (f >= 0 && !finish_at) {
                    finish_at = now_ns() + (uint64_t)f * MS;
                    next_check = 0;
                }
            } else {
                ready((int)i, events[e].events);
            }
        }
    }
}
