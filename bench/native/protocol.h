/* What the load client says and hears: Phoenix V2 JSON frames or Engine.IO v4 /
 * Socket.IO v5 packets, both as WebSocket text messages. */
#ifndef CINDER_LOAD_PROTOCOL_H
#define CINDER_LOAD_PROTOCOL_H

#include <stddef.h>

#include "options.h"

/* Refs at or above this are pushes and heartbeats; below it, ref-1 is the join index. */
#define PUSH_REF_BASE 1000000L

typedef enum {
    IN_OTHER = 0,
    IN_DELIVERY,        /* a broadcast new_msg; broadcast_id set (-1 if the body had no marker) */
    IN_JOIN_OK,         /* ref = join ref */
    IN_JOIN_ERROR,
    IN_HEARTBEAT_OK,    /* the ok reply to a phoenix heartbeat */
    IN_EIO_OPEN,        /* engine.io open packet: send the namespace connect */
    IN_EIO_CONNECTED,   /* socket.io namespace connected */
    IN_EIO_PING,        /* answer with pong */
    IN_EIO_REFUSED,
} inbound_kind;

typedef struct {
    inbound_kind kind;
    long ref;
    long broadcast_id;
} inbound;

void classify_inbound(enum protocol p, const char *s, size_t len, inbound *in);

int encode_join(enum protocol p, char *out, size_t cap, const char *topic, long ref, const char *params);
int encode_publish(enum protocol p, char *out, size_t cap, const char *topic, long join_ref, long ref,
                   long broadcast_id, unsigned long long send_ns, int body_size);
int encode_heartbeat(enum protocol p, char *out, size_t cap, long ref);

#endif
