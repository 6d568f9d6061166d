/* Presence storm client: N sockets join one presence-tracking room within a window and follow
 * its presence (presence_state, then presence_diff) the way phoenix.js does, by phx_ref-free key
 * sets: member i joins as "u<i>". Each socket keeps a bitmap of the keys its list holds; the run
 * ends when every list holds all N (or at the timeout). Prints one JSON report on stdout and
 * "phase <name>" lines on stderr.
 *
 *   presence-storm --port P --path /socket/websocket?vsn=2.0.0 --topic room:storm --members N
 *                  [--join-window-ms 1000] [--timeout-s 120] [--hold-ms 0] [--host 127.0.0.1]
 * With --hold-ms the sockets stay in the room that long after the end ("phase done").
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

typedef struct {
    int fd;
    int state; /* 0 connecting, 1 handshake sent, 2 open, 3 joined, -1 closed */
    int joined_sent;
    byte_buffer in, frag, out;
    uint64_t *known;      /* bitmap of keys in this member's list */
    uint32_t count;
    uint64_t complete_ns; /* when count reached N (0 = not yet) */
    uint64_t presence_bytes, state_frames, diff_frames;
} member;

static int N;
static member *members;
static uint64_t t0;
static int words;
static long completed, closed_count, join_replies, joins_failed;
static uint64_t last_reply_ns;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void send_text(member *m, const char *text, size_t len) { send_text_frame(&m->out, m->fd, text, len); }

static void set_key(member *m, long k, int present) {
    if (k < 0 || k >= N) return;
    uint64_t bit = 1ull << (k & 63);
    uint64_t *w = &m->known[k >> 6];
    if (present && !(*w & bit)) {
        *w |= bit;
        if (++m->count == (uint32_t)N && !m->complete_ns) {
            m->complete_ns = now_ns();
            completed++;
        }
    } else if (!present && (*w & bit)) {
        *w &= ~bit;
        m->count--;
    }
}

/* Every key "u<digits>" whose value opens with {"metas": in [from, to): present or not.
 * Found by memchr on 'u' (no other part of the demo's frames has one, but for a phx_ref now and
 * then, which the checks around it reject): the client must read faster than the server writes. */
static void scan_keys(member *m, const char *from, const char *to, int present) {
    static const char tail[] = "\":{\"metas\":";
    const size_t tail_len = sizeof tail - 1;
    const char *p = from;
    while (p < to) {
        const char *u = memchr(p, 'u', (size_t)(to - p));
        if (!u) break;
        p = u + 1;
        if (u == from || u[-1] != '"') continue;
        long k = 0;
        const char *d = u + 1;
        while (d < to && *d >= '0' && *d <= '9') k = k * 10 + (*d++ - '0');
        if (d == u + 1 || (size_t)(to - d) < tail_len || memcmp(d, tail, tail_len) != 0) continue;
        set_key(m, k, present);
        p = d + tail_len;
    }
}

static void on_message(member *m, const char *s, size_t len) {
    /* ["join_ref","ref","topic","event",payload]: the event sits in the first ~200 bytes. */
    size_t head = len < 256 ? len : 256;
    if (memmem(s, head, "\"presence_state\"", 16)) {
        m->presence_bytes += len;
        m->state_frames++;
        /* A state replaces the list: keys it lacks are gone. */
        memset(m->known, 0, (size_t)words * 8);
        uint32_t before_complete = m->complete_ns != 0;
        m->count = 0;
        if (before_complete) { m->complete_ns = 0; completed--; }
        scan_keys(m, s, s + len, 1);
    } else if (memmem(s, head, "\"presence_diff\"", 15)) {
        m->presence_bytes += len;
        m->diff_frames++;
        const char *leaves = memmem(s, len, "\"leaves\":{", 10);
        /* Phoenix applies joins first, then leaves. */
        scan_keys(m, s, leaves ? leaves : s + len, 1);
        if (leaves) scan_keys(m, leaves, s + len, 0);
    } else if (memmem(s, head, "\"phx_reply\"", 11)) {
        if (m->state == 2) {
            m->state = 3;
            join_replies++;
            last_reply_ns = now_ns();
            if (!memmem(s, len, "\"ok\"", 4)) joins_failed++;
        }
    }
}

static void close_member(member *m) {
    if (m->fd >= 0) close(m->fd);
    m->fd = -1;
    if (m->state != -1) closed_count++;
    m->state = -1;
}

static void on_member_message(void *context, const char *s, size_t len) { on_message(context, s, len); }

/* Handles the complete frames in [data, data + len); returns the bytes they took (all of it once closed). */
static size_t decode_frames(member *m, const char *data, size_t len) {
    int closed;
    size_t used = decode_messages(data, len, &m->frag, on_member_message, m, &closed);
    if (closed) close_member(m);
    return used;
}

/* Bytes the frame at the start of buf still lacks (its header first, when that is short). */
static size_t frame_missing(const char *buf, size_t avail) {
    const uint8_t *b = (const uint8_t *)buf;
    if (avail < 2) return 2 - avail;
    size_t h = 2;
    uint64_t len = b[1] & 0x7f;
    if (len == 126) {
        h = 4;
        if (avail < h) return h - avail;
        len = ((uint64_t)b[2] << 8) | b[3];
    } else if (len == 127) {
        h = 10;
        if (avail < h) return h - avail;
        len = 0;
        for (int i = 0; i < 8; i++) len = (len << 8) | b[2 + i];
    }
    return h + len > avail ? (size_t)(h + len - avail) : 0;
}

/* What a read brought. Frames are decoded where they lie; only an unfinished frame is copied
 * aside (and completed from the next read), so a member holds at most one frame, not a read. */
static void receive(member *m, const char *data, size_t len) {
    if (m->state == 1) {
        byte_buffer_append(&m->in, data, len);
        const char *end = memmem(m->in.data, m->in.len, "\r\n\r\n", 4);
        if (!end) return;
        if (m->in.len < 12 || memcmp(m->in.data + 9, "101", 3) != 0) { close_member(m); return; }
        size_t off = (size_t)(end - m->in.data) + 4;
        m->state = 2;
        memmove(m->in.data, m->in.data + off, m->in.len - off);
        m->in.len -= off;
        size_t used = decode_frames(m, m->in.data, m->in.len);
        if (m->fd < 0) return;
        memmove(m->in.data, m->in.data + used, m->in.len - used);
        m->in.len -= used;
        return;
    }
    while (m->in.len > 0 && len > 0) {
        size_t take = frame_missing(m->in.data, m->in.len);
        if (take > len) take = len;
        byte_buffer_append(&m->in, data, take);
        data += take;
        len -= take;
        if (frame_missing(m->in.data, m->in.len) == 0) {
            decode_frames(m, m->in.data, m->in.len);
            if (m->fd < 0) return;
            m->in.len = 0;
        }
    }
    if (len == 0) return;
    size_t used = decode_frames(m, data, len);
    if (m->fd < 0) return;
    if (used < len) byte_buffer_append(&m->in, data + used, len - used);
}

static int by_value(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = "/socket/websocket?vsn=2.0.0", *topic = "room:storm";
    int port = 4000, join_window_ms = 1000, timeout_s = 120, hold_ms = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--host")) host = argv[i + 1];
        else if (!strcmp(argv[i], "--port")) port = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--path")) path = argv[i + 1];
        else if (!strcmp(argv[i], "--topic")) topic = argv[i + 1];
        else if (!strcmp(argv[i], "--members")) N = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--join-window-ms")) join_window_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--timeout-s")) timeout_s = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--hold-ms")) hold_ms = atoi(argv[i + 1]);
    }
    if (N <= 0) { fprintf(stderr, "--members N required\n"); return 2; }
    words = (N + 63) / 64;
    members = calloc((size_t)N, sizeof(member));
    int ep = epoll_create1(0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, host, &addr.sin_addr);
    char request[2048];
    int request_len = ws_handshake_request(request, sizeof request, host, port, path);

    /* Connect everybody first (a few hundred at a time), then the storm. */
    int next = 0, open_count = 0, pending = 0;
    struct epoll_event events[1024];
    static char rbuf[1 << 20];
    while (open_count + (int)closed_count < N) {
        while (next < N && pending < 256) {
            member *m = &members[next];
            m->known = calloc((size_t)words, 8);
            m->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            int one = 1;
            setsockopt(m->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            connect(m->fd, (struct sockaddr *)&addr, sizeof addr);
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u32 = (uint32_t)next};
            epoll_ctl(ep, EPOLL_CTL_ADD, m->fd, &ev);
            next++;
            pending++;
        }
        int n = epoll_wait(ep, events, 1024, 1000);
        for (int i = 0; i < n; i++) {
            member *m = &members[events[i].data.u32];
            if (m->fd < 0) continue;
            if (m->state == 0 && (events[i].events & EPOLLOUT)) {
                int err = 0;
                socklen_t el = sizeof err;
                getsockopt(m->fd, SOL_SOCKET, SO_ERROR, &err, &el);
                if (err) { close_member(m); pending--; continue; }
                byte_buffer_append(&m->out, request, (size_t)request_len);
                byte_buffer_flush(&m->out, m->fd);
                m->state = 1;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = events[i].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, m->fd, &ev);
            }
            if (events[i].events & EPOLLIN) {
                ssize_t k = read(m->fd, rbuf, sizeof rbuf);
                if (k <= 0) { close_member(m); pending--; continue; }
                receive(m, rbuf, (size_t)k);
                if (m->state == 2) { open_count++; pending--; }
            }
        }
    }
    fprintf(stderr, "phase connected %d\n", open_count);

    t0 = now_ns();
    fprintf(stderr, "phase storm\n");
    uint64_t deadline = t0 + (uint64_t)timeout_s * 1000000000ull;
    uint64_t last_heartbeat = t0;
    int joins_sent = 0;
    char msg[512];
    while (completed < open_count - 0 && now_ns() < deadline) {
        uint64_t now = now_ns();
        /* Member i joins at i/N of the window. */
        while (joins_sent < N && (join_window_ms == 0 || (now - t0) >= (uint64_t)joins_sent * (uint64_t)join_window_ms * 1000000ull / (uint64_t)N)) {
            member *m = &members[joins_sent];
            if (m->state == 2) {
                int len = snprintf(msg, sizeof msg, "[\"1\",\"1\",\"%s\",\"phx_join\",{\"user\":\"u%d\"}]", topic, joins_sent);
                send_text(m, msg, (size_t)len);
            }
            joins_sent++;
        }
        if (now - last_heartbeat > 20000000000ull) {
            last_heartbeat = now;
            const char *hb = "[null,\"hb\",\"phoenix\",\"heartbeat\",{}]";
            for (int i = 0; i < N; i++) if (members[i].state >= 2) send_text(&members[i], hb, strlen(hb));
        }
        int n = epoll_wait(ep, events, 1024, joins_sent < N ? 1 : 100);
        for (int i = 0; i < n; i++) {
            member *m = &members[events[i].data.u32];
            if (m->fd < 0) continue;
            ssize_t k = read(m->fd, rbuf, sizeof rbuf);
            if (k == 0 || (k < 0 && errno != EAGAIN)) { close_member(m); continue; }
            if (k < 0) continue;
            receive(m, rbuf, (size_t)k);
        }
        if (closed_count > 0 && completed >= open_count - closed_count) break;
    }
    uint64_t end = now_ns();
    fprintf(stderr, "phase done\n");
    /* Stay in the room a while (reading on), so that its full list can be looked at. */
    while (now_ns() < end + (uint64_t)hold_ms * 1000000ull) {
        int n = epoll_wait(ep, events, 1024, 50);
        for (int i = 0; i < n; i++) {
            member *m = &members[events[i].data.u32];
            if (m->fd < 0) continue;
            ssize_t k = read(m->fd, rbuf, sizeof rbuf);
            if (k == 0 || (k < 0 && errno != EAGAIN)) { close_member(m); continue; }
            if (k > 0) receive(m, rbuf, (size_t)k);
        }
    }

    /* Report: completion times (ms since the first join), bytes. */
    double *times = malloc(sizeof(double) * (size_t)N);
    int nt = 0;
    uint64_t bytes = 0, max_bytes = 0, states = 0, diffs = 0;
    for (int i = 0; i < N; i++) {
        member *m = &members[i];
        if (m->complete_ns) times[nt++] = (double)(m->complete_ns - t0) / 1e6;
        bytes += m->presence_bytes;
        if (m->presence_bytes > max_bytes) max_bytes = m->presence_bytes;
        states += m->state_frames;
        diffs += m->diff_frames;
    }
    qsort(times, (size_t)nt, sizeof(double), by_value);
    printf("{\"members\":%d,\"connected\":%d,\"joinReplies\":%ld,\"joinErrors\":%ld,\"closed\":%ld,\"complete\":%d,"
           "\"lastJoinReplyMs\":%.1f,\"completeP50Ms\":%.1f,\"completeMaxMs\":%.1f,\"elapsedMs\":%.1f,"
           "\"presenceBytesPerMember\":%.0f,\"presenceBytesMax\":%lu,\"stateFrames\":%lu,\"diffFrames\":%lu}\n",
           N, open_count, join_replies, joins_failed, closed_count, nt,
           last_reply_ns ? (double)(last_reply_ns - t0) / 1e6 : -1.0,
           nt ? times[nt / 2] : -1.0, nt ? times[nt - 1] : -1.0, (double)(end - t0) / 1e6,
           (double)bytes / N, (unsigned long)max_bytes, (unsigned long)states, (unsigned long)diffs);
    return 0;
}
