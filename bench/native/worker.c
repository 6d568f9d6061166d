#define _GNU_SOURCE
#include "worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "protocol.h"
#include "wsframe.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_CONNECT_ATTEMPTS 5
#define READ_CHUNK (256 * 1024)
#define SCRATCH (128 * 1024)

enum conn_state {
    ST_IDLE = 0, ST_CONNECTING, ST_HANDSHAKE, ST_EIO_OPENING, ST_CONNECTED, ST_JOINING, ST_READY, ST_FAILED, ST_CLOSED
};

typedef struct {
    char *data;
    uint32_t len, cap;
} buffer;

typedef struct {
    int fd;
    int g;
    uint8_t state;
    uint8_t attempts;
    uint8_t frag_opcode;
    uint8_t want_write;
    uint32_t joins_ok, joins_err;
    buffer in;    /* unparsed tail (partial frame or handshake) */
    buffer out;   /* bytes the kernel did not take yet */
    buffer frag;  /* fragmented message being assembled */
} conn;

typedef struct {
    const options *o;
    shared_state *sh;
    int epfd;
    int first, count;
    conn *conns;
    int *connect_queue;
    int queue_head, queue_tail;
    int connecting;
    int next_to_join, joining;
    long next_push_ref;
    uint64_t local_deliveries;
    int is_publisher;
    char *scratch;
} worker;

static char read_buf[READ_CHUNK];

int joins_of(const options *o, int g) {
    if (o->topics == 0) return 0;
    return g == 0 ? o->topic_space : o->topics;
}

int topic_of(const options *o, int g, int j) {
    if (g == 0) return j;
    return (int)(((long)g * o->topics + j) % o->topic_space);
}

static void topic_name(const options *o, int t, char *out, size_t cap) {
    snprintf(out, cap, "%s%d", o->topic_prefix, t);
}

static void buf_append(buffer *b, const char *d, size_t n) {
    if (b->len + n > b->cap) {
        uint32_t cap = b->cap ? b->cap : 512;
        while (cap < b->len + n) cap *= 2;
        b->data = realloc(b->data, cap);
        if (!b->data) { perror("realloc"); exit(2); }
        b->cap = cap;
    }
    memcpy(b->data + b->len, d, n);
    b->len += (uint32_t)n;
}

static void buf_free(buffer *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static void watch(worker *w, conn *c, uint32_t events, int op) {
    struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - w->conns)};
    if (epoll_ctl(w->epfd, op, c->fd, &ev) < 0 && op != EPOLL_CTL_DEL) perror("epoll_ctl");
}

static void start_connect(worker *w, conn *c);

/* Ends a socket; what it counts as depends on how far it got. */
static void conn_close(worker *w, conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    buf_free(&c->in);
    buf_free(&c->out);
    buf_free(&c->frag);
    switch (c->state) {
    case ST_CONNECTING: case ST_HANDSHAKE: case ST_EIO_OPENING:
        w->connecting--;
        if (c->attempts < MAX_CONNECT_ATTEMPTS && w->sh->phase == PHASE_CONNECT) {
            c->state = ST_IDLE;
            w->connect_queue[w->queue_tail++ % w->count] = (int)(c - w->conns);
            return;
        }
        ATOMIC_ADD(&w->sh->connect_failed, 1);
        c->state = ST_FAILED;
        return;
    case ST_JOINING:
        w->joining--;
        /* fallthrough */
    case ST_CONNECTED:
        ATOMIC_ADD(&w->sh->join_done, 1);
        /* fallthrough */
    case ST_READY:
        ATOMIC_ADD(&w->sh->closed, 1);
        break;
    default:
        break;
    }
    c->state = ST_CLOSED;
}

static void flush_out(worker *w, conn *c) {
    while (c->out.len > 0) {
        ssize_t n = write(c->fd, c->out.data, c->out.len);
        if (n < 0) {
            if (errno == EAGAIN) break;
            conn_close(w, c);
            return;
        }
        memmove(c->out.data, c->out.data + n, c->out.len - (size_t)n);
        c->out.len -= (uint32_t)n;
    }
    int need = c->out.len > 0;
    if (need != c->want_write) {
        c->want_write = (uint8_t)need;
        watch(w, c, EPOLLIN | (need ? EPOLLOUT : 0), EPOLL_CTL_MOD);
    }
}

static void conn_send_raw(worker *w, conn *c, const char *d, size_t n) {
    if (c->fd < 0) return;
    if (c->out.len == 0) {
        ssize_t k = write(c->fd, d, n);
        if (k < 0 && errno != EAGAIN) { conn_close(w, c); return; }
        if (k < 0) k = 0;
        d += k;
        n -= (size_t)k;
        if (n == 0) return;
    }
    buf_append(&c->out, d, n);
    flush_out(w, c);
}

static void send_text(worker *w, conn *c, const char *text, size_t len) {
    char frame[SCRATCH];
    if (len + 14 > sizeof frame) return;
    size_t n = ws_encode(WS_TEXT, text, len, frame);
    conn_send_raw(w, c, frame, n);
}

static void mark_connected(worker *w, conn *c) {
    c->state = ST_CONNECTED;
    w->connecting--;
    ATOMIC_ADD(&w->sh->connected, 1);
}

static void finish_join(worker *w, conn *c) {
    c->state = ST_READY;
    w->joining--;
    ATOMIC_ADD(&w->sh->join_done, 1);
    if (c->joins_err == 0) ATOMIC_ADD(&w->sh->joined_sockets, 1);
}

static void on_delivery(worker *w, long id) {
    shared_state *sh = w->sh;
    w->local_deliveries++;
    if (id < 0 || id >= sh->slot_capacity) {
        ATOMIC_ADD(&sh->unknown_deliveries, 1);
        return;
    }
    broadcast_slot *s = &sh->slots[id];
    uint32_t got = ATOMIC_ADD(&s->received, 1);
    if (got == __atomic_load_n(&s->expected, __ATOMIC_ACQUIRE)) {
        s->complete_ns = now_ns();
        ATOMIC_ADD(&sh->completed, 1);
        if (!w->is_publisher) {
            uint64_t one = 1;
            if (write(sh->wake_fd, &one, sizeof one) < 0) { /* the publisher polls anyway */ }
        }
    }
}

static void on_message(worker *w, conn *c, const char *s, size_t len) {
    inbound in;
    classify_inbound(w->o->protocol, s, len, &in);
    switch (in.kind) {
    case IN_DELIVERY:
        on_delivery(w, in.broadcast_id);
        break;
    case IN_HEARTBEAT_OK:
        ATOMIC_ADD(&w->sh->heartbeat_replies, 1);
        break;
    case IN_JOIN_OK:
    case IN_JOIN_ERROR:
        if (c->state != ST_JOINING) break;
        if (in.kind == IN_JOIN_OK && in.ref >= 1 && in.ref <= joins_of(w->o, c->g)) {
            c->joins_ok++;
            ATOMIC_ADD(&w->sh->topic_joined[topic_of(w->o, c->g, (int)in.ref - 1)], 1);
        } else {
            c->joins_err++;
            ATOMIC_ADD(&w->sh->join_errors, 1);
        }
        if (c->joins_ok + c->joins_err >= (uint32_t)joins_of(w->o, c->g)) finish_join(w, c);
        break;
    case IN_EIO_OPEN:
        send_text(w, c, "40", 2);
        break;
    case IN_EIO_CONNECTED:
        if (c->state == ST_EIO_OPENING) mark_connected(w, c);
        break;
    case IN_EIO_PING:
        send_text(w, c, "3", 1);
        break;
    case IN_EIO_REFUSED:
        ATOMIC_ADD(&w->sh->protocol_errors, 1);
        conn_close(w, c);
        break;
    default:
        break;
    }
}

static void on_frame(worker *w, conn *c, const ws_frame *f) {
    switch (f->opcode) {
    case WS_TEXT:
    case WS_BINARY:
        if (f->fin) { on_message(w, c, f->payload, f->len); return; }
        c->frag.len = 0;
        c->frag_opcode = f->opcode;
        buf_append(&c->frag, f->payload, f->len);
        return;
    case WS_CONT:
        buf_append(&c->frag, f->payload, f->len);
        if (f->fin) {
            on_message(w, c, c->frag.data, c->frag.len);
            if (c->fd >= 0) c->frag.len = 0;
        }
        return;
    case WS_PING: {
        char frame[256];
        if (f->len <= 125) conn_send_raw(w, c, frame, ws_encode(WS_PONG, f->payload, f->len, frame));
        return;
    }
    case WS_CLOSE:
        conn_close(w, c);
        return;
    default:
        return;
    }
}

/* Returns bytes consumed from buf; the caller keeps the rest for the next read. */
static size_t consume(worker *w, conn *c, const char *buf, size_t len) {
    size_t off = 0;
    if (c->state == ST_HANDSHAKE) {
        const char *end = memmem(buf, len, "\r\n\r\n", 4);
        if (!end) return 0;
        if (len < 12 || memcmp(buf + 9, "101", 3) != 0) {
            ATOMIC_ADD(&w->sh->protocol_errors, 1);
            conn_close(w, c);
            return len;
        }
        off = (size_t)(end - buf) + 4;
        if (w->o->protocol == PROTO_PHOENIX) mark_connected(w, c);
        else c->state = ST_EIO_OPENING;
    }
    while (off < len && c->fd >= 0) {
        ws_frame f;
        int r = ws_decode(buf + off, len - off, &f);
        if (r == 0) break;
        if (r < 0) {
            ATOMIC_ADD(&w->sh->protocol_errors, 1);
            conn_close(w, c);
            return len;
        }
        on_frame(w, c, &f);
        off += f.frame_len;
    }
    return off;
}

static void on_readable(worker *w, conn *c) {
    ssize_t n = read(c->fd, read_buf, sizeof read_buf);
    if (n == 0 || (n < 0 && errno != EAGAIN)) { conn_close(w, c); return; }
    if (n < 0) return;
    if (c->in.len == 0) {
        size_t used = consume(w, c, read_buf, (size_t)n);
        if (c->fd >= 0 && used < (size_t)n) buf_append(&c->in, read_buf + used, (size_t)n - used);
        return;
    }
    buf_append(&c->in, read_buf, (size_t)n);
    size_t used = consume(w, c, c->in.data, c->in.len);
    if (c->fd < 0) return;
    memmove(c->in.data, c->in.data + used, c->in.len - used);
    c->in.len -= (uint32_t)used;
    if (c->in.len == 0 && c->in.cap > 65536) buf_free(&c->in);
}

static void on_connect_ready(worker *w, conn *c) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err != 0) { conn_close(w, c); return; }
    char req[2048];
    int n = ws_handshake_request(req, sizeof req, w->o->host, w->o->port, w->o->path);
    c->state = ST_HANDSHAKE;
    c->want_write = 0;
    watch(w, c, EPOLLIN, EPOLL_CTL_MOD);
    conn_send_raw(w, c, req, (size_t)n);
}

static void start_connect(worker *w, conn *c) {
    const options *o = w->o;
    c->attempts++;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) { perror("socket"); c->state = ST_FAILED; ATOMIC_ADD(&w->sh->connect_failed, 1); return; }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    /* Source addresses spread the ephemeral ports; the port is picked at connect time. */
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(c->g % o->sources));
    bind(c->fd, (struct sockaddr *)&src, sizeof src);
    struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
    inet_pton(AF_INET, o->host, &dst.sin_addr);
    c->state = ST_CONNECTING;
    c->want_write = 1;
    w->connecting++;
    int r = connect(c->fd, (struct sockaddr *)&dst, sizeof dst);
    watch(w, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_ADD);
    if (r < 0 && errno != EINPROGRESS) conn_close(w, c);
}

static void send_joins(worker *w, conn *c) {
    const options *o = w->o;
    int n = joins_of(o, c->g);
    c->state = ST_JOINING;
    w->joining++;
    if (n == 0) { finish_join(w, c); return; }
    size_t used = 0;
    for (int j = 0; j < n && c->fd >= 0; j++) {
        char topic[256], text[1024];
        topic_name(o, topic_of(o, c->g, j), topic, sizeof topic);
        int len = encode_join(o->protocol, text, sizeof text, topic, j + 1, o->join_payload);
        if (used + (size_t)len + 14 > SCRATCH) {
            conn_send_raw(w, c, w->scratch, used);
            used = 0;
        }
        used += ws_encode(WS_TEXT, text, (size_t)len, w->scratch + used);
    }
    if (used > 0) conn_send_raw(w, c, w->scratch, used);
}

static void publish_ready(worker *w) {
    shared_state *sh = w->sh;
    conn *c = &w->conns[0];
    if (c->state != ST_READY) return;
    size_t used = 0;
    for (;;) {
        long id = (long)sh->published;
        long limit = sh->round_limit;
        if (limit > 0 && id >= limit) break;
        if (id >= sh->slot_capacity) break;
        if ((long)(id - (long)ATOMIC_LOAD(&sh->completed)) >= sh->inflight_limit) break;
        int t = (int)(id % w->o->topic_space);
        char topic[256], text[SCRATCH / 2];
        topic_name(w->o, t, topic, sizeof topic);
        broadcast_slot *s = &sh->slots[id];
        uint64_t t0 = now_ns();
        s->send_ns = t0;
        __atomic_store_n(&s->expected, ATOMIC_LOAD(&sh->topic_joined[t]), __ATOMIC_RELEASE);
        /* Phoenix drops pushes whose join_ref is stale; the publisher joined topic t with ref t+1. */
        int len = encode_publish(w->o->protocol, text, sizeof text, topic, t + 1, w->next_push_ref++, id,
                                 (unsigned long long)t0, w->o->body_size);
        if (used + (size_t)len + 14 > SCRATCH) { conn_send_raw(w, c, w->scratch, used); used = 0; }
        used += ws_encode(WS_TEXT, text, (size_t)len, w->scratch + used);
        __atomic_store_n(&sh->published, (uint64_t)id + 1, __ATOMIC_RELEASE);
    }
    if (used > 0) conn_send_raw(w, c, w->scratch, used);
}

static void send_heartbeats(worker *w, long tick) {
    if (w->o->protocol != PROTO_PHOENIX || w->o->heartbeat_s <= 0) return;
    for (int i = 0; i < w->count; i++) {
        conn *c = &w->conns[i];
        if (c->fd < 0 || c->state < ST_CONNECTED || c->state > ST_READY) continue;
        if ((c->g + tick) % w->o->heartbeat_s != 0) continue;
        char text[128];
        int n = encode_heartbeat(PROTO_PHOENIX, text, sizeof text, w->next_push_ref++);
        send_text(w, c, text, (size_t)n);
    }
}

void run_worker(const options *o, shared_state *sh, int first, int count) {
    worker w = {.o = o, .sh = sh, .first = first, .count = count, .next_push_ref = PUSH_REF_BASE};
    w.is_publisher = first == 0;
    w.epfd = epoll_create1(EPOLL_CLOEXEC);
    w.conns = calloc((size_t)count, sizeof(conn));
    w.connect_queue = calloc((size_t)count, sizeof(int));
    w.scratch = malloc(SCRATCH);
    for (int i = 0; i < count; i++) {
        w.conns[i].fd = -1;
        w.conns[i].g = first + i;
        w.connect_queue[w.queue_tail++] = i;
    }
    uint32_t wake_tag = 0xffffffffu;
    if (w.is_publisher) {
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = wake_tag};
        epoll_ctl(w.epfd, EPOLL_CTL_ADD, sh->wake_fd, &ev);
    }
    struct epoll_event events[512];
    uint64_t next_tick = now_ns() + 1000000000ull;
    long tick = 0;
    for (;;) {
        int phase = sh->phase;
        if (phase == PHASE_DONE) break;
        while (phase == PHASE_CONNECT && w.connecting < o->connect_concurrency && w.queue_head < w.queue_tail)
            start_connect(&w, &w.conns[w.connect_queue[w.queue_head++ % count]]);
        if (phase >= PHASE_JOIN) {
            while (w.joining < o->join_concurrency && w.next_to_join < count) {
                conn *c = &w.conns[w.next_to_join++];
                if (c->state == ST_CONNECTED) send_joins(&w, c);
            }
        }
        if (w.is_publisher && phase == PHASE_PUBLISH) publish_ready(&w);
        int n = epoll_wait(w.epfd, events, 512, 2);
        for (int i = 0; i < n; i++) {
            if (events[i].data.u32 == wake_tag) {
                uint64_t v;
                if (read(sh->wake_fd, &v, sizeof v) < 0) { /* spurious */ }
                continue;
            }
            conn *c = &w.conns[events[i].data.u32];
            if (c->fd < 0) continue;
            if (c->state == ST_CONNECTING) {
                if (events[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connect_ready(&w, c);
                continue;
            }
            if (events[i].events & EPOLLOUT) flush_out(&w, c);
            if (c->fd >= 0 && (events[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))) on_readable(&w, c);
        }
        if (w.local_deliveries) {
            ATOMIC_ADD(&sh->deliveries, w.local_deliveries);
            w.local_deliveries = 0;
        }
        uint64_t t = now_ns();
        if (t >= next_tick) {
            next_tick = t + 1000000000ull;
            send_heartbeats(&w, ++tick);
        }
    }
    for (int i = 0; i < count; i++)
        if (w.conns[i].fd >= 0) close(w.conns[i].fd);
}
