/* State shared between the coordinator and the worker processes (one anonymous
 * shared mapping made before fork). Counters are updated with atomics because
 * several processes deliver to the same broadcast. */
#ifndef CINDER_LOAD_SHARED_H
#define CINDER_LOAD_SHARED_H

#include <stdint.h>
#include <time.h>

enum phase { PHASE_CONNECT = 0, PHASE_JOIN, PHASE_IDLE, PHASE_PUBLISH, PHASE_DONE };

typedef struct {
    uint64_t send_ns;      /* CLOCK_MONOTONIC when the publisher wrote it (shared by all processes) */
    uint64_t complete_ns;  /* when the last expected subscriber received it */
    uint32_t expected;     /* subscribers of the topic that had joined */
    uint32_t received;
} broadcast_slot;

typedef struct {
    volatile int phase;
    volatile int inflight_limit;
    volatile long round_limit;      /* publish until published reaches this id (0 = no limit) */
    int wake_fd;                    /* eventfd: wakes the publisher when another process completes */
    uint64_t connected, connect_failed, join_done, joined_sockets, join_errors, closed;
    uint64_t deliveries, unknown_deliveries, protocol_errors;
    uint64_t heartbeat_replies;    /* ok replies to heartbeats, counted as they arrive */
    uint64_t published, completed;
    uint32_t *topic_joined;         /* per topic: sockets whose join succeeded */
    broadcast_slot *slots;
    long slot_capacity;
} shared_state;

static inline uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#define ATOMIC_ADD(p, v) __atomic_add_fetch((p), (v), __ATOMIC_RELAXED)
#define ATOMIC_LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)

#endif
