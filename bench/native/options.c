/* Parses --flag value pairs; every option has a default so a bare run works. */
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void set_defaults(options *o) {
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 4000;
    o->path = "/socket/websocket?vsn=2.0.0&user=bench";
    o->protocol = PROTO_PHOENIX;
    o->sockets = 100;
    o->topics = 1;
    o->topic_space = 0;
    o->topic_prefix = "bench:";
    o->join_payload = "{\"user\":\"bench\",\"presence\":false}";
    o->processes = 0;
    o->sources = 0;
    o->connect_concurrency = 256;
    o->join_concurrency = 256;
    o->inflight[0] = 1;
    o->rounds = 1;
    o->warmup_s = 1;
    o->duration_s = 5;
    o->messages = 0;
    o->hold_s = 0;
    o->drain_s = 2;
    o->settle_s = 0.5;
    o->connect_timeout_s = 120;
    o->heartbeat_s = 30;
    o->body_size = 100;
    o->max_messages = 4000000;
}

/* "1,32" = two rounds; "0" = connect, join and hold only. */
static int parse_inflight_list(const char *s, options *o) {
    o->rounds = 0;
    if (!strcmp(s, "0")) return 0;
    while (*s && o->rounds < MAX_ROUNDS) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1) return -1;
        o->inflight[o->rounds++] = (int)v;
        s = *end == ',' ? end + 1 : end;
    }
    return o->rounds > 0 ? 0 : -1;
}

int parse_options(int argc, char **argv, options *o) {
    set_defaults(o);
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strncmp(k, "--", 2) != 0 || v == NULL) {
            fprintf(stderr, "bad argument: %s\n", k);
            return -1;
        }
        k += 2;
        i++;
        if (!strcmp(k, "host")) o->host = v;
        else if (!strcmp(k, "port")) o->port = atoi(v);
        else if (!strcmp(k, "path")) o->path = v;
        else if (!strcmp(k, "protocol")) {
            if (!strcmp(v, "phoenix")) o->protocol = PROTO_PHOENIX;
            else if (!strcmp(v, "engineio")) o->protocol = PROTO_ENGINEIO;
            else { fprintf(stderr, "unknown protocol %s\n", v); return -1; }
        }
        else if (!strcmp(k, "sockets")) o->sockets = atoi(v);
        else if (!strcmp(k, "topics")) o->topics = atoi(v);
        else if (!strcmp(k, "topic-space")) o->topic_space = atoi(v);
        else if (!strcmp(k, "topic-prefix")) o->topic_prefix = v;
        else if (!strcmp(k, "join-payload")) o->join_payload = v;
        else if (!strcmp(k, "processes")) o->processes = atoi(v);
        else if (!strcmp(k, "sources")) o->sources = atoi(v);
        else if (!strcmp(k, "connect-concurrency")) o->connect_concurrency = atoi(v);
        else if (!strcmp(k, "join-concurrency")) o->join_concurrency = atoi(v);
        else if (!strcmp(k, "inflight")) {
            if (parse_inflight_list(v, o)) { fprintf(stderr, "bad --inflight %s\n", v); return -1; }
        }
        else if (!strcmp(k, "warmup")) o->warmup_s = atof(v);
        else if (!strcmp(k, "duration")) o->duration_s = atof(v);
        else if (!strcmp(k, "messages")) o->messages = atol(v);
        else if (!strcmp(k, "hold")) o->hold_s = atof(v);
        else if (!strcmp(k, "drain")) o->drain_s = atof(v);
        else if (!strcmp(k, "settle")) o->settle_s = atof(v);
        else if (!strcmp(k, "step")) o->step = atoi(v);
        else if (!strcmp(k, "connect-timeout")) o->connect_timeout_s = atof(v);
        else if (!strcmp(k, "heartbeat")) o->heartbeat_s = atoi(v);
        else if (!strcmp(k, "body-size")) o->body_size = atoi(v);
        else if (!strcmp(k, "max-messages")) o->max_messages = atol(v);
        else { fprintf(stderr, "unknown option --%s\n", k); return -1; }
    }
    if (o->sockets < 1 || o->topics < 0 || o->body_size < 40 || o->body_size > 60000) {
        fprintf(stderr, "need sockets >= 1, topics >= 0, 40 <= body-size <= 60000\n");
        return -1;
    }
    if (o->topic_space <= 0) o->topic_space = o->topics > 0 ? o->topics : 1;
    if (o->topics > o->topic_space) o->topics = o->topic_space;
    /* One process holds at most ~19,000 sockets: the fd limit is 20,000 per process. */
    if (o->processes <= 0) o->processes = (o->sockets + 18999) / 19000;
    /* Source addresses spread ephemeral ports (~28,000 per address and server port); several
     * per run keep the kernel's port search short when earlier runs left TIME_WAIT sockets. */
    if (o->sources <= 0) o->sources = 1 + o->sockets / 4000;
    if (o->sources > 250) o->sources = 250;
    if (o->max_messages < 16) o->max_messages = 16;
    return 0;
}
