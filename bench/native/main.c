/* cinder-load: a WebSocket fan-out load client. The coordinator (this process)
 * forks worker processes, steps them through phases (connect, join, hold,
 * publish rounds) through shared memory, and prints one JSON report on stdout.
 * Phase changes are announced on stderr ("phase <name> [k]") so a runner can
 * sample the server's CPU time and memory at the same moments. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "report.h"
#include "shared.h"
#include "worker.h"

static void *shared_alloc(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(2); }
    return p;
}

static void sleep_s(double s) {
    if (s <= 0) return;
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void announce(const char *phase, int k) {
    if (k >= 0) fprintf(stderr, "phase %s %d\n", phase, k);
    else fprintf(stderr, "phase %s\n", phase);
    fflush(stderr);
}

/* Between phases: the settle pause, or with --step the runner's go-ahead (a line on stdin), for
 * samples that take longer than any fixed pause (a garbage collection, a heap snapshot). */
static void settle(const options *o) {
    if (!o->step) {
        sleep_s(o->settle_s);
        return;
    }
    char line[64];
    if (!fgets(line, sizeof line, stdin)) return;
}

/* Waits until *counter >= target (re-read through fn) or the deadline passes. */
static void wait_for(uint64_t (*fn)(const shared_state *), const shared_state *sh, uint64_t target, double timeout) {
    uint64_t deadline = now_ns() + (uint64_t)(timeout * 1e9);
    while (fn(sh) < target && now_ns() < deadline) sleep_s(0.001);
}

static uint64_t connect_settled(const shared_state *sh) {
    return ATOMIC_LOAD(&sh->connected) + ATOMIC_LOAD(&sh->connect_failed);
}
static uint64_t join_settled(const shared_state *sh) { return ATOMIC_LOAD(&sh->join_done); }
static uint64_t completed(const shared_state *sh) { return ATOMIC_LOAD(&sh->completed); }

static double cpu_seconds_of(const pid_t *pids, int n) {
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    for (int i = 0; i < n; i++) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", pids[i]);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = 0;
        char *p = strrchr(buf, ')');
        if (!p) continue;
        unsigned long ut = 0, st = 0;
        /* after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
        total += (double)(ut + st) / (double)hz;
    }
    return total;
}

/* Waits for outstanding broadcasts while deliveries still arrive: a slow server is not
 * a lossy one. Gives up after idle_s without any delivery (what is left is missing). */
static void drain(const shared_state *sh, uint64_t target, double idle_s) {
    uint64_t last = ATOMIC_LOAD(&sh->deliveries);
    uint64_t idle_since = now_ns();
    while (ATOMIC_LOAD(&sh->completed) < target) {
        sleep_s(0.005);
        uint64_t d = ATOMIC_LOAD(&sh->deliveries), t = now_ns();
        if (d != last) {
            last = d;
            idle_since = t;
        } else if ((double)(t - idle_since) / 1e9 > idle_s) {
            return;
        }
    }
}

static void run_round(const options *o, shared_state *sh, int inflight, const pid_t *pids, round_result *r) {
    memset(r, 0, sizeof *r);
    r->inflight = inflight;
    r->first_id = (long)ATOMIC_LOAD(&sh->published);
    sh->inflight_limit = inflight;
    sh->round_limit = o->messages > 0 ? r->first_id + o->messages : 0;
    double cpu0;
    uint64_t d0;
    if (o->messages > 0) {
        /* A counted round's window opens before the publisher may start: its first broadcasts
         * (all of them when they fit in flight at once) are sent and delivered inside it. */
        announce("measure", inflight);
        cpu0 = cpu_seconds_of(pids, o->processes);
        d0 = ATOMIC_LOAD(&sh->deliveries);
        r->window_start = now_ns();
        sh->phase = PHASE_PUBLISH;
    } else {
        sh->phase = PHASE_PUBLISH;
        announce("warmup", inflight);
        sleep_s(o->warmup_s);
        announce("measure", inflight);
        cpu0 = cpu_seconds_of(pids, o->processes);
        d0 = ATOMIC_LOAD(&sh->deliveries);
        r->window_start = now_ns();
    }
    if (o->messages > 0) {
        double limit = o->duration_s > 0 ? o->duration_s : 600;
        wait_for(completed, sh, (uint64_t)sh->round_limit, limit);
    } else {
        sleep_s(o->duration_s);
    }
    r->window_end = now_ns();
    r->deliveries = ATOMIC_LOAD(&sh->deliveries) - d0;
    r->client_cpu_s = cpu_seconds_of(pids, o->processes) - cpu0;
    announce("measured", inflight);
    sh->phase = PHASE_IDLE;
    sleep_s(0.01); /* lets the publisher see the phase before the last id is read */
    r->end_id = (long)ATOMIC_LOAD(&sh->published);
    drain(sh, (uint64_t)r->end_id, o->drain_s);
    summarize_round(sh, r);
}

int main(int argc, char **argv) {
    options o;
    if (parse_options(argc, argv, &o)) return 2;
    signal(SIGPIPE, SIG_IGN);

    shared_state *sh = shared_alloc(sizeof *sh);
    sh->topic_joined = shared_alloc(sizeof(uint32_t) * (size_t)o.topic_space);
    sh->slots = shared_alloc(sizeof(broadcast_slot) * (size_t)o.max_messages);
    sh->slot_capacity = o.max_messages;
    sh->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    sh->phase = PHASE_CONNECT;

    pid_t *pids = calloc((size_t)o.processes, sizeof(pid_t));
    uint64_t t_start = now_ns();
    announce("connecting", -1);
    pid_t coordinator = getpid();
    for (int i = 0; i < o.processes; i++) {
        int first = (int)((long)o.sockets * i / o.processes);
        int end = (int)((long)o.sockets * (i + 1) / o.processes);
        pid_t pid = fork();
        if (pid == 0) {
            /* A worker ends with the coordinator, however the coordinator ends (a runner that kills
             * it after a timeout or a memory guard must not leave 50 workers holding sockets). */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != coordinator) _exit(1);
            run_worker(&o, sh, first, end - first);
            _exit(0);
        }
        pids[i] = pid;
    }

    wait_for(connect_settled, sh, (uint64_t)o.sockets, o.connect_timeout_s);
    uint64_t t_connected = now_ns();
    uint64_t connected = ATOMIC_LOAD(&sh->connected);
    announce("connected", -1);
    settle(&o);

    uint64_t t_join_start = now_ns();
    sh->phase = PHASE_JOIN;
    wait_for(join_settled, sh, connected, o.connect_timeout_s);
    uint64_t t_joined = now_ns();
    announce("joined", -1);
    settle(&o);
    sh->phase = PHASE_IDLE;

    if (o.hold_s > 0) {
        /* k: heartbeat replies received so far, so a runner can count those of the hold. */
        announce("hold", (int)ATOMIC_LOAD(&sh->heartbeat_replies));
        sleep_s(o.hold_s);
        announce("held", (int)ATOMIC_LOAD(&sh->heartbeat_replies));
    }

    round_result rounds[MAX_ROUNDS];
    int nrounds = o.topics > 0 ? o.rounds : 0;
    for (int i = 0; i < nrounds; i++) run_round(&o, sh, o.inflight[i], pids, &rounds[i]);

    sh->phase = PHASE_DONE;
    announce("done", -1);
    for (int i = 0; i < o.processes; i++) waitpid(pids[i], NULL, 0);
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                 (double)ru.ru_stime.tv_usec / 1e6;

    uint64_t subs = 0;
    for (int t = 0; t < o.topic_space; t++) subs += sh->topic_joined[t];
    double connect_s = (double)(t_connected - t_start) / 1e9;
    double join_s = (double)(t_joined - t_join_start) / 1e9;
    printf("{\n  \"protocol\": \"%s\", \"sockets\": %d, \"topics_per_socket\": %d, \"topic_space\": %d,"
           " \"processes\": %d, \"sources\": %d, \"body_size\": %d,\n",
           o.protocol == PROTO_PHOENIX ? "phoenix" : "engineio", o.sockets, o.topics, o.topic_space, o.processes,
           o.sources, o.body_size);
    printf("  \"connect\": {\"connected\": %llu, \"failed\": %llu, \"seconds\": %.3f, \"per_s\": %.0f},\n",
           (unsigned long long)connected, (unsigned long long)ATOMIC_LOAD(&sh->connect_failed), connect_s,
           connect_s > 0 ? (double)connected / connect_s : 0);
    printf("  \"join\": {\"joined_sockets\": %llu, \"subscriptions\": %llu, \"errors\": %llu, \"seconds\": %.3f,"
           " \"subscriptions_per_s\": %.0f},\n",
           (unsigned long long)ATOMIC_LOAD(&sh->joined_sockets), (unsigned long long)subs,
           (unsigned long long)ATOMIC_LOAD(&sh->join_errors), join_s, join_s > 0 ? (double)subs / join_s : 0);
    printf("  \"rounds\": [\n");
    for (int i = 0; i < nrounds; i++) print_round_json(&rounds[i], i == nrounds - 1);
    printf("  ],\n  \"closed_by_server\": %llu, \"unknown_deliveries\": %llu, \"protocol_errors\": %llu,"
           " \"heartbeat_replies\": %llu, \"client_cpu_s\": %.3f\n}\n",
           (unsigned long long)ATOMIC_LOAD(&sh->closed), (unsigned long long)ATOMIC_LOAD(&sh->unknown_deliveries),
           (unsigned long long)ATOMIC_LOAD(&sh->protocol_errors),
           (unsigned long long)ATOMIC_LOAD(&sh->heartbeat_replies), cpu);
    return 0;
}
