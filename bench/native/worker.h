/* One worker process: owns a contiguous range of sockets and drives them with epoll. */
#ifndef CINDER_LOAD_WORKER_H
#define CINDER_LOAD_WORKER_H

#include "options.h"
#include "shared.h"

/* Sockets [first, first + count) in global numbering; socket 0 is the publisher. */
void run_worker(const options *o, shared_state *sh, int first, int count);

/* Topic joined by socket g as its j-th join, and how many joins socket g makes. */
int topic_of(const options *o, int g, int j);
int joins_of(const options *o, int g);

#endif
