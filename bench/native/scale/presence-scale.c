/* Presence at scale, one client process: its share of a room's members (native sockets) join one
 * presence-tracking room, then leave and join again at a steady rate while the harness watches.
 * Each member is a socket of its own that joins as "u<key>" (tracked by the room, as a real member
 * is) and follows the room's presence as a count ({presence: "count"}) or, with --mode list, as
 * the list. Sample sockets (the first --samples) never leave and always follow the count: each
 * presence_count they receive is written to --events with its receive time, beside the time of
 * every join and leave this process had acknowledged, so the harness can lay the counts seen
 * against the truth. The time each join and leave was sent is written too, and each join answered
 * without effect (refused, or its socket closed before the reply): a server whose joins wait in
 * its backlog has counted changes the acks do not show yet, and the harness tells them apart.
 * Times are CLOCK_MONOTONIC ns: one clock for every process on the machine.
 *
 *   presence-scale --port P --topic room:scale --members M --spare S --first-key K
 *                  --source 127.0.0.1 --per-source 4000 --join-rate R --churn-rate C
 *                  --samples N --events FILE [--mode count|list] [--timeout-s 120]
 * Phases (stderr "phase <name>"): connected, joined (then "sample <i> <ip> <port>" lines); the
 * harness writes "churn", "stop" and "quit" lines on stdin. Churn: change i at i/C s, in 10 s
 * cycles: 3 joins to 2 leaves for the first half, 2 to 3 for the second, so the count climbs and
 * falls and a count seen matches one moment of the truth. A leave is a phx_leave of the member
 * joined longest (not a sample); its socket stays open as a spare, and a join takes a spare
 * socket with a new key. "quit" writes the events and prints one JSON report on stdout.
 * Events file, one a line: "a <t> <+1|-1>" a join or leave acknowledged, "p <t> <+1|-1>" one sent,
 * "e <t> 1" a join answered without effect, "s <socket> <t> <keys>" a count a sample received.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../byte-buffer.h"
#include "../wsframe.h"

enum { CONNECTING, HANDSHAKE, SPARE, JOINING, JOINED, LEAVING, CLOSED };

typedef struct {
    int fd;
    int state;
    int join_ref;
    long key;
    byte_buffer in, frag, out;
} member;

typedef struct { uint64_t t; int32_t a, b; } event; /* ack, sent, void: a = +1/-1; sample: a = socket, b = keys */

static member *sockets;
static int total, samples, list_mode;
static const char *topic = "room:scale";
static long next_key;
static event *acks, *counts, *sent, *voided;
static size_t n_acks, cap_acks, n_counts, cap_counts, n_sent, cap_sent, n_voided, cap_voided;
static long join_replies, joins_lost, join_errors, leave_replies, closed_count, skipped_joins, joins_pushed, leaves_pushed;
static uint64_t bytes_in, bytes_window_start, bytes_window;
static int *joined_queue; /* ring of joined non-sample sockets, oldest first */
static int jq_head, jq_len;
static int *spare_stack;
static int spare_len;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void push_event(event **list, size_t *n, size_t *cap, uint64_t t, int a, int b) {
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 65536;
        *list = realloc(*list, *cap * sizeof(event));
        if (!*list) { perror("realloc"); exit(2); }
    }
    (*list)[(*n)++] = (event){t, a, b};
}

static void send_text(member *m, const char *text, size_t len) { send_text_frame(&m->out, m->fd, text, len); }

static void close_member(member *m) {
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
    if (m->state == JOINING) { /* its reply will never come, and its member is not in the room */
        joins_lost++;
        push_event(&voided, &n_voided, &cap_voided, now_ns(), 1, 0);
    }
    if (m->state != CLOSED) closed_count++;
    m->state = CLOSED;
}

static void send_join(int i) {
    member *m = &sockets[i];
    char msg[256];
    m->join_ref++;
    m->key = next_key++;
    int count = i < samples || !list_mode;
    int len = snprintf(msg, sizeof msg, "[\"%d\",\"j\",\"%s\",\"phx_join\",{\"user\":\"u%ld\"%s}]", m->join_ref, topic, m->key,
                       count ? ",\"presence\":\"count\"" : "");
    m->state = JOINING;
    joins_pushed++;
    push_event(&sent, &n_sent, &cap_sent, now_ns(), 1, 0);
    send_text(m, msg, (size_t)len);
}

static void send_leave(int i) {
    member *m = &sockets[i];
    char msg[256];
    int len = snprintf(msg, sizeof msg, "[\"%d\",\"l\",\"%s\",\"phx_leave\",{}]", m->join_ref, topic);
    m->state = LEAVING;
    leaves_pushed++;
    push_event(&sent, &n_sent, &cap_sent, now_ns(), -1, 0);
    send_text(m, msg, (size_t)len);
}

/* The number after "keys": in a presence_count payload. */
static long keys_of(const char *s, size_t len) {
    const char *k = memmem(s, len, "\"keys\":", 7);
    if (!k) return -1;
    long v = 0;
    for (k += 7; k < s + len && *k >= '0' && *k <= '9'; k++) v = v * 10 + (*k - '0');
    return v;
}

static void on_message(int i, const char *s, size_t len) {
    member *m = &sockets[i];
    size_t head = len < 200 ? len : 200;
    if (memmem(s, head, "\"presence_count\"", 16)) {
        if (i < samples) push_event(&counts, &n_counts, &cap_counts, now_ns(), i, (int)keys_of(s, len));
    } else if (memmem(s, head, "\"phx_reply\"", 11)) {
        /* [join_ref, ref, topic, "phx_reply", {status, response}]: ref "j" answers a join, "l" a leave. */
        int ok = memmem(s, len, "\"status\":\"ok\"", 13) != NULL;
        if (m->state == JOINING && memmem(s, head, ",\"j\",", 5)) {
            join_replies++;
            if (!ok) {
                join_errors++;
                push_event(&voided, &n_voided, &cap_voided, now_ns(), 1, 0);
                m->state = SPARE;
                spare_stack[spare_len++] = i;
                return;
            }
            m->state = JOINED;
            push_event(&acks, &n_acks, &cap_acks, now_ns(), 1, 0);
            if (i >= samples) joined_queue[(jq_head + jq_len++) % total] = i;
        } else if (m->state == LEAVING && memmem(s, head, ",\"l\",", 5)) {
            leave_replies++;
            push_event(&acks, &n_acks, &cap_acks, now_ns(), -1, 0);
            m->state = SPARE;
            spare_stack[spare_len++] = i;
        }
    }
}

static void on_socket_message(void *context, const char *s, size_t len) { on_message((int)(intptr_t)context, s, len); }

/* Handles the complete frames in [data, data + len); returns the bytes they took (all of it once closed). */
static size_t decode_frames(int i, const char *data, size_t len) {
    int closed;
    size_t used = decode_messages(data, len, &sockets[i].frag, on_socket_message, (void *)(intptr_t)i, &closed);
    if (closed) close_member(&sockets[i]);
    return used;
}

static void receive(int i, const char *data, size_t len) {
    member *m = &sockets[i];
    bytes_in += len;
    if (m->state == HANDSHAKE) {
        byte_buffer_append(&m->in, data, len);
        const char *end = memmem(m->in.data, m->in.len, "\r\n\r\n", 4);
        if (!end) return;
        if (m->in.len < 12 || memcmp(m->in.data + 9, "101", 3) != 0) { close_member(m); return; }
        size_t off = (size_t)(end - m->in.data) + 4;
        m->state = SPARE;
        memmove(m->in.data, m->in.data + off, m->in.len - off);
        m->in.len -= off;
        return;
    }
    byte_buffer_append(&m->in, data, len);
    size_t used = decode_frames(i, m->in.data, m->in.len);
    if (m->fd < 0) return;
    memmove(m->in.data, m->in.data + used, m->in.len - used);
    m->in.len -= used;
}

static void read_ready(int ep, struct epoll_event *events, int n) {
    static char rbuf[1 << 18];
    for (int e = 0; e < n; e++) {
        int i = (int)events[e].data.u32;
        member *m = &sockets[i];
        if (m->fd < 0) continue;
        if (m->state == CONNECTING) {
            if (!(events[e].events & EPOLLOUT)) continue;
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &el);
            if (err) { close_member(m); continue; }
            m->state = HANDSHAKE;
            struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
            epoll_ctl(ep, EPOLL_CTL_MOD, m->fd, &ev);
            continue;
        }
        ssize_t k = read(m->fd, rbuf, sizeof rbuf);
        if (k == 0 || (k < 0 && errno != EAGAIN)) { close_member(m); continue; }
        if (k > 0) receive(i, rbuf, (size_t)k);
    }
}

/* Every open socket sends a heartbeat each 15 s, in every phase: filling a big room on a busy
 * machine takes longer than the server's idle timeout (60 s). */
static void heartbeat_all(uint64_t *last) {
    uint64_t now = now_ns();
    if (now - *last < 15000000000ull) return;
    *last = now;
    const char *hb = "[null,\"hb\",\"phoenix\",\"heartbeat\",{}]";
    for (int i = 0; i < total; i++) if (sockets[i].state >= SPARE && sockets[i].state != CLOSED) send_text(&sockets[i], hb, strlen(hb));
}

/* A line on stdin from the harness, or "" when none is waiting. */
static const char *command(void) {
    static char line[64];
    static size_t have;
    ssize_t k = read(0, line + have, sizeof line - 1 - have);
    if (k <= 0) return k == 0 ? "quit" : "";
    have += (size_t)k;
    char *nl = memchr(line, '\n', have);
    if (!nl) return "";
    *nl = 0;
    static char out[64];
    strcpy(out, line);
    have -= (size_t)(nl + 1 - line);
    memmove(line, nl + 1, have);
    return out;
}

int main(int argc, char **argv) {
    const char *path = "/socket/websocket?vsn=2.0.0", *source = "127.0.0.1", *events_file = NULL;
    int port = 4000, members = 0, spare = 0, per_source = 4000, timeout_s = 120;
    double join_rate = 5000, churn_rate = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--topic")) topic = argv[i + 1];
        else if (!strcmp(argv[i], "--members")) members = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--spare")) spare = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--first-key")) next_key = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--source")) source = argv[i + 1];
        else if (!strcmp(argv[i], "--per-source")) per_source = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--join-rate")) join_rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--churn-rate")) churn_rate = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--samples")) samples = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--events")) events_file = argv[i + 1];
        else if (!strcmp(argv[i], "--mode")) list_mode = !strcmp(argv[i + 1], "list");
        else if (!strcmp(argv[i], "--timeout-s")) timeout_s = atoi(argv[i + 1]);
    }
    total = members + spare;
    if (members <= 0 || !events_file || samples > members) { fprintf(stderr, "--members M --events FILE required, --samples <= M\n"); return 2; }
    sockets = calloc((size_t)total, sizeof(member));
    joined_queue = calloc((size_t)total, sizeof(int));
    spare_stack = calloc((size_t)total, sizeof(int));
    int ep = epoll_create1(0);
    struct epoll_event stdin_ev = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &stdin_ev);
    struct sockaddr_in server = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &server.sin_addr);
    in_addr_t first_source;
    inet_pton(AF_INET, source, &first_source);
    char request[2048];
    int request_len = ws_handshake_request(request, sizeof request, "127.0.0.1", port, path);
    uint64_t deadline = now_ns() + (uint64_t)timeout_s * 1000000000ull;
    struct epoll_event events[1024];
    int n;

    /* Connect every socket, a few hundred at a time, each bound to its source address. */
    int next = 0, open_count = 0;
    uint64_t last_heartbeat = now_ns();
    while (open_count + (int)closed_count < total && now_ns() < deadline) {
        heartbeat_all(&last_heartbeat);
        int in_flight = next - open_count - (int)closed_count;
        while (next < total && in_flight++ < 256) {
            member *m = &sockets[next];
            m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int one = 1;
            setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct sockaddr_in local = {.sin_family = AF_INET, .sin_port = 0};
            local.sin_addr.s_addr = htonl(ntohl(first_source) + (uint32_t)(next / per_source));
            if (bind(m->fd, (struct sockaddr *)&local, sizeof local) != 0) { perror("bind"); return 2; }
            connect(m->fd, (struct sockaddr *)&server, sizeof server);
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, m->fd, &ev);
            next++;
        }
        n = epoll_wait(ep, events, 1024, 100);
        for (int e = 0; e < n; e++) {
            if (events[e].data.u32 == UINT32_MAX) continue;
            member *m = &sockets[events[e].data.u32];
            int before = m->state;
            read_ready(ep, &events[e], 1);
            if (m->state == HANDSHAKE && before == CONNECTING) {
                byte_buffer_append(&m->out, request, (size_t)request_len);
                byte_buffer_flush(&m->out, m->fd);
            }
            if (m->state == SPARE && before == HANDSHAKE) open_count++;
        }
    }
    fprintf(stderr, "phase connected %d\n", open_count);

    /* Members join at --join-rate; the rest stay spare. */
    uint64_t t0 = now_ns();
    int joins_sent = 0;
    while (join_replies + joins_lost < joins_sent || joins_sent < members) {
        heartbeat_all(&last_heartbeat);
        if (now_ns() > deadline) { fprintf(stderr, "join timeout: %ld of %d replies\n", join_replies, members); return 3; }
        uint64_t due = (uint64_t)((double)(now_ns() - t0) / 1e9 * join_rate);
        for (; joins_sent < members && (uint64_t)joins_sent <= due; joins_sent++)
            if (sockets[joins_sent].state == SPARE) send_join(joins_sent);
            else join_replies++; /* closed before its join: counted as answered, reported as closed */
        n = epoll_wait(ep, events, 1024, 1);
        for (int e = 0; e < n; e++) if (events[e].data.u32 != UINT32_MAX) read_ready(ep, &events[e], 1);
    }
    for (int i = total - 1; i >= members; i--) if (sockets[i].state == SPARE) spare_stack[spare_len++] = i;
    fprintf(stderr, "phase joined %ld\n", join_replies - join_errors);
    for (int i = 0; i < samples; i++) {
        struct sockaddr_in local;
        socklen_t ll = sizeof local;
        if (sockets[i].fd < 0 || getsockname(sockets[i].fd, (struct sockaddr *)&local, &ll) != 0) continue;
        char ip[32];
        inet_ntop(AF_INET, &local.sin_addr, ip, sizeof ip);
        fprintf(stderr, "sample %d %s %d\n", i, ip, ntohs(local.sin_port));
    }
    fprintf(stderr, "phase samples\n");

    /* Hold, churn when told, stop when told, quit when told. */
    int churning = 0;
    uint64_t churn_t0 = 0;
    long changes = 0;
    for (;;) {
        uint64_t now = now_ns();
        if (churning) {
            uint64_t due = (uint64_t)((double)(now - churn_t0) / 1e9 * churn_rate);
            for (; (uint64_t)changes < due; changes++) {
                /* In each cycle of 10 s: 3 joins in 5 changes while climbing, 2 while falling. */
                double at = (double)changes / churn_rate;
                int climbing = ((long)(at / 5.0)) % 2 == 0;
                int join = (changes % 5) < (climbing ? 3 : 2);
                if (join) {
                    if (spare_len == 0) { skipped_joins++; continue; }
                    send_join(spare_stack[--spare_len]);
                } else if (jq_len > 0) {
                    int i = joined_queue[jq_head];
                    jq_head = (jq_head + 1) % total;
                    jq_len--;
                    if (sockets[i].state == JOINED) send_leave(i);
                }
            }
        }
        heartbeat_all(&last_heartbeat);
        n = epoll_wait(ep, events, 1024, churning ? 1 : 50);
        const char *cmd = "";
        for (int e = 0; e < n; e++) {
            if (events[e].data.u32 == UINT32_MAX) cmd = command();
            else read_ready(ep, &events[e], 1);
        }
        if (!strcmp(cmd, "churn")) {
            churning = 1;
            churn_t0 = now_ns();
            bytes_window_start = bytes_in;
            fprintf(stderr, "phase churning\n");
        } else if (!strcmp(cmd, "stop")) {
            churning = 0;
            fprintf(stderr, "phase stopped\n");
        } else if (!strcmp(cmd, "quit")) {
            bytes_window = bytes_in - bytes_window_start;
            break;
        }
    }

    FILE *out = fopen(events_file, "w");
    if (!out) { perror(events_file); return 2; }
    for (size_t i = 0; i < n_acks; i++) fprintf(out, "a %lu %d\n", (unsigned long)acks[i].t, acks[i].a);
    for (size_t i = 0; i < n_sent; i++) fprintf(out, "p %lu %d\n", (unsigned long)sent[i].t, sent[i].a);
    for (size_t i = 0; i < n_voided; i++) fprintf(out, "e %lu %d\n", (unsigned long)voided[i].t, voided[i].a);
    for (size_t i = 0; i < n_counts; i++) fprintf(out, "s %d %lu %d\n", counts[i].a, (unsigned long)counts[i].t, counts[i].b);
    fclose(out);
    printf("{\"sockets\":%d,\"connected\":%d,\"joinReplies\":%ld,\"joinErrors\":%ld,\"joinsLost\":%ld,\"leaveReplies\":%ld,\"closed\":%ld,"
           "\"changesSent\":%ld,\"joinsSent\":%ld,\"leavesSent\":%ld,\"skippedJoins\":%ld,\"bytesIn\":%lu,\"bytesInWindow\":%lu,\"counts\":%zu}\n",
           total, open_count, join_replies, join_errors, joins_lost, leave_replies, closed_count, changes, joins_pushed, leaves_pushed, skipped_joins,
           (unsigned long)bytes_in, (unsigned long)bytes_window, n_counts);
    return 0;
}
