/* Command-line options of the Cinder load client. */
#ifndef CINDER_LOAD_OPTIONS_H
#define CINDER_LOAD_OPTIONS_H

#include <stdint.h>

enum protocol { PROTO_PHOENIX = 0, PROTO_ENGINEIO = 1 };

#define MAX_ROUNDS 16

typedef struct {
    const char *host;          /* server address (dotted IPv4) */
    int port;
    const char *path;          /* request target incl. query, e.g. /socket/websocket?vsn=2.0.0 */
    enum protocol protocol;
    int sockets;               /* total sockets over all processes */
    int topics;                /* topics joined per socket */
    int topic_space;           /* distinct topics; socket g joins (g*topics + j) % topic_space */
    const char *topic_prefix;  /* topic name = prefix + index */
    const char *join_payload;  /* phoenix join params (JSON object) */
    int processes;             /* worker processes (each has its own fd limit) */
    int sources;               /* source addresses 127.0.0.1 .. 127.0.0.<sources> */
    int connect_concurrency;   /* sockets connecting at once, per process */
    int join_concurrency;      /* sockets joining at once, per process */
    int inflight[MAX_ROUNDS];  /* one measurement round per value */
    int rounds;
    double warmup_s;
    double duration_s;         /* measurement window per round (0 = until --messages are done) */
    long messages;             /* broadcasts per round (0 = unlimited, bounded by the window) */
    double hold_s;             /* hold after joining, before publishing */
    double drain_s;            /* after a round, stop waiting once no delivery came for this long */
    double settle_s;           /* pause between phases so server memory can be sampled */
    int step;                  /* 1: after "connected" and "joined", wait for a line on stdin (the runner measured) */
    double connect_timeout_s;
    int heartbeat_s;           /* phoenix heartbeat interval per socket */
    int body_size;             /* broadcast body length in bytes */
    long max_messages;         /* capacity of the broadcast table */
} options;

int parse_options(int argc, char **argv, options *o);

#endif
