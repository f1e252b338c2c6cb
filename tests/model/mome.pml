/*
 * mome.pml - a Promela model of Mome's directory and coherence protocol (mome/coherence/*.c and
 * the barrier and locks of mome/core/sync.c), 3 nodes x 2 pages, for an exhaustive search with
 * spin.
 * README in this folder says what is modelled, what is abstracted and why, and how to run it.
 *
 * One process per node. Each step is a node's progress thread running one handler for any
 * message in its inbox (in any order: UCX does not order messages), or its application thread
 * taking its next access, release or barrier. A handler runs atomically (d_step), as the progress
 * thread runs one handler at a time; each inline names the C function it stands for. A node's
 * private state is local to its process (spin's COLLAPSE then stores each node's state once);
 * what other nodes look at (access rights, contents, directory owners) and the checks are global.
 *
 * Switches: -DSCEN=k (one scenario; default all), -DMUT_* (deliberately broken variants the
 * check must catch: README.md, check.sh; MUT_FLUSH_DIFF_UNACKED is the code before the fix of the
 * bug this model found), -DCOVER (branch coverage: coverage.sh); scenario 6 (locks): -DLOCKS,
 * -DLOCK_TWICE, -DLOCK_THRICE, -DLOCK_NOBAR, -DPMGR, -DLMGR (README.md); scenario 7 (two
 * application threads in a node): -DMT_NODES, -DMT_THREADS, -DMT_LOCKS, -DMT_SECT, -DST_SECT,
 * -DST_LAST (README.md); scenario 5 (kept pages): -DWRITE_BACK (README.md); scenario 8 (a STRONG
 * reader flushing a page that RELEASE nodes write under a lock): -DPMGR, -DLMGR.
 */

#define N 3             /* nodes */
#define P 2             /* pages */
#define NIL 255         /* -1 / MOME_NODE_NONE */
#define QCAP 3          /* a directory queue: at most one request per node and page */
#define NSLOT 3         /* notices waiting for STALE_ACKs, per manager */
#define SLEN 15         /* script length per node, END included */
#define HOPMAX 6        /* a request or notice forwarded more often than this is looping */
#define HSLOT 2         /* notices held while an entry moves, per page */
#define NT 3            /* application threads per node (room: scenario 7 uses 2 or 3) */

/*
 * Message types: exactly the names registered in the code (the .wire names of the
 * mome_msg_def_t tables); tests/model/names.test compares this list with the code's table.
 */
mtype = {
    READ_REQ, WRITE_REQ, DONE,
    FWD_READ, FWD_WRITE, FWD_SNAP, INV, FLUSH,
    GRANT, DATA, INV_ACK, FLUSH_ACK,
    DIR_MOVE, DIR_MOVE_ACK,
    DIFF, NOTICE, NOTICE_ACK, STALE, STALE_ACK,
    DROP, DROP_ACK, UNSHARE, UNSHARE_ACK,
    BAR_ENTER, BAR_EXIT,
    LOCK_REQ, LOCK_GRANT, LOCK_REL
};

/*
 * Coverage (-DCOVER): COV marks a branch; at the end pan lists how often each marked line ran
 * (coverage.sh names the ones never reached). Without COVER it is nothing.
 */
#ifdef COVER
c_decl {
    int cov_hits[4096];
    static void cov_dump(void)
    {
        int i;
        for (i = 0; i < 4096; i++)
            if (cov_hits[i])
                printf("COV %d %d\n", i, cov_hits[i]);
    }
}
#define COV c_code { cov_hits[__LINE__]++; };
#define COV_START c_code { atexit(cov_dump); };
#else
#define COV
#define COV_START
#endif

/* ---- scenarios: the models per node and page, the default managers, the scripts ---- */

#define STRONG 0
#define RELEASE 1

/* Script operations: kind << 4 | page. */
#define K_END 0
#define K_READ 1
#define K_WRITE 2
#define K_BAR 3
#define K_REL 4
#define K_LOCK 5        /* MomeLock(l): the low bits are the lock */
#define K_UNLOCK 6      /* MomeUnlock(l) */
#define K_LD 7          /* read counter k of page pg (k = 3: check every counter) */
#define K_ST 8          /* write counter k of page pg: the value read + 1 */
#define K_JOIN 9        /* thread 0 waits for thread 1's end (pthread_join in lock_counter) */
#define K_BACK 10       /* write page pg's own field back to its value before the last write */
#define OP(k, pg) (((k) << 4) | (pg))
#define RD(pg) OP(K_READ, pg)
#define WR(pg) OP(K_WRITE, pg)
#define BAR OP(K_BAR, 0)
#define REL OP(K_REL, 0)
#define END OP(K_END, 0)
#define LK(l) OP(K_LOCK, l)
#define UL(l) OP(K_UNLOCK, l)
#define LD(pg, k) OP(K_LD, (k) << 1 | (pg))
#define ST(pg, k) OP(K_ST, (k) << 1 | (pg))
#define LDALL(pg) LD(pg, 3)
#define JOIN OP(K_JOIN, 0)
#define BK(pg) OP(K_BACK, pg)
/* The page of an operation (locks: 0); the counter of K_LD, K_ST. */
#define OP_PAGE(o) (((o) >> 4) == K_BACK -> (o) & 15 : \
                    (((o) >> 4) >= K_LD -> (o) & 1 : (((o) >> 4) >= K_LOCK -> 0 : (o) & 15)))
#define OP_CTR(o) (((o) >> 1) & 7)

/*
 * The search covers every scenario but 7 (the first step chooses one; -DSCEN=k runs scenario k
 * alone). A scenario's tables are constants of the run: hidden, set in that first step.
 */
byte scen;
hidden byte mtab[N * P];        /* the model of node n for page p */
hidden byte dmgr[P];            /* the default manager of page p */
hidden byte script[N * NT * SLEN];  /* per node n and thread t (row n + N * t): SLEN - 1
                                       operations (END-padded), then END */
hidden byte ra_on, wa_on;       /* read-ahead, write-ahead (MOME_PREFETCH > 0) */
hidden byte rwa_on;             /* RELEASE writes ask the next page ahead too (STRONG ones always) */
hidden byte mt_on;              /* scenario 7: the paths only several threads of a node reach */
hidden byte ltotal;             /* scenarios 6 to 8: the increments of the whole job */
hidden byte th;                 /* the application thread a step or callback is about */
#ifndef LOCKS
#define LOCKS 1         /* scenario 6: locks, each guarding its counter of page 0 (1 or 2) */
#endif
#if defined(MUT_SERVED_SPEC_KEPT) && !defined(WRITE_BACK)
#define WRITE_BACK      /* (scenario 5 with a value written back: where that mutant shows) */
#endif
#if defined(MUT_DUE_MT_ONLY) && !defined(RWA3)
#define RWA3            /* (scenario 3 with remote RELEASE write-ahead: where that mutant shows) */
#endif
#if defined(MUT_DROP_DIRTY) && !defined(MT_LOCKS)
#define MT_LOCKS 3
#endif
#ifndef MT_LOCKS
#define MT_LOCKS 2      /* scenario 7: locks and counters of page 0 (2 or 3) */
#endif
#if MT_LOCKS > 2
#define NL 3            /* room for locks */
#else
#define NL 2
#endif
hidden byte lkmgr[NL];          /* the locks' managers (sync.c lock_manager) */
/* The placements init chose (scenarios 6 to 8). Not hidden: a hidden variable is not in the state,
 * and nothing else there tells the lock managers apart until a lock message leaves, so the states
 * after init matched across pick_lmgr and the search covered pick_lmgr 0 alone (until 2026-12-05,
 * helper-72). (dst already tells the page's managers apart.) */
byte pick_pmgr, pick_lmgr;
#define MODEL(n, pg) mtab[(n) * P + (pg)]
#define DEFMGR(pg) dmgr[pg]

#define MODELS(a0, a1, b0, b1, c0, c1) \
    mtab[0] = a0; mtab[1] = a1; mtab[2] = b0; mtab[3] = b1; mtab[4] = c0; mtab[5] = c1
#define SCRIPT7(n, a, b, c, d, e, f, g) \
    script[(n) * SLEN] = a; script[(n) * SLEN + 1] = b; script[(n) * SLEN + 2] = c; \
    script[(n) * SLEN + 3] = d; script[(n) * SLEN + 4] = e; script[(n) * SLEN + 5] = f; \
    script[(n) * SLEN + 6] = g; script[(n) * SLEN + 7] = END; script[(n) * SLEN + 8] = END; \
    script[(n) * SLEN + 9] = END; script[(n) * SLEN + 10] = END
#define SCRIPT8(n, a, b, c, d, e, f, g, h) \
    SCRIPT7(n, a, b, c, d, e, f, g); script[(n) * SLEN + 7] = h
#define SCRIPT10(n, a, b, c, d, e, f, g, h, k, l) \
    SCRIPT8(n, a, b, c, d, e, f, g, h); script[(n) * SLEN + 8] = k; script[(n) * SLEN + 9] = l
#define SCRIPT14(n, a, b, c, d, e, f, g, h, k, l, a2, b2, c2, d2) \
    SCRIPT10(n, a, b, c, d, e, f, g, h, k, l); script[(n) * SLEN + 10] = a2; \
    script[(n) * SLEN + 11] = b2; script[(n) * SLEN + 12] = c2; script[(n) * SLEN + 13] = d2

/* Scenario 6's script of node n: one lock section, or two; then a barrier and a read. */
#ifndef LOCK_TWICE
#define LOCK_TWICE 3    /* how many nodes (0, 1, ...) take the lock twice (at least) */
#endif
#ifndef LOCK_THRICE
#define LOCK_THRICE 0   /* how many of them (0, 1, ...) take it three times */
#endif
#define LOCK_TOTAL (N + LOCK_TWICE + LOCK_THRICE)       /* the increments of the whole job */
/* As lock_counter: the i-th section of node n takes counter (i + n) mod LOCKS, under its lock. */
#define LK_OF(n, i) (((n) + (i)) % LOCKS)
#define K0(n) LK_OF(n, 0)
#define K1(n) LK_OF(n, 1)
#define K2(n) LK_OF(n, 2)
#ifdef LOCK_NOBAR
#define LOCK_SCRIPT(n, twice, thrice) \
    if \
    :: (thrice) -> SCRIPT14(n, LK(K0(n)), LD(0, K0(n)), ST(0, K0(n)), UL(K0(n)), \
                          LK(K1(n)), LD(0, K1(n)), ST(0, K1(n)), UL(K1(n)), \
                          LK(K2(n)), LD(0, K2(n)), ST(0, K2(n)), UL(K2(n)), END, END) \
    :: (twice) && !(thrice) -> SCRIPT10(n, LK(K0(n)), LD(0, K0(n)), ST(0, K0(n)), UL(K0(n)), \
                         LK(K1(n)), LD(0, K1(n)), ST(0, K1(n)), UL(K1(n)), END, END) \
    :: else -> SCRIPT7(n, LK(K0(n)), LD(0, K0(n)), ST(0, K0(n)), UL(K0(n)), END, END, END) \
    fi
#else
#define LOCK_SCRIPT(n, twice, thrice) \
    if \
    :: (thrice) -> SCRIPT14(n, LK(K0(n)), LD(0, K0(n)), ST(0, K0(n)), UL(K0(n)), \
                          LK(K1(n)), LD(0, K1(n)), ST(0, K1(n)), UL(K1(n)), \
                          LK(K2(n)), LD(0, K2(n)), ST(0, K2(n)), UL(K2(n)), BAR, LDALL(0)) \
    :: (twice) && !(thrice) -> SCRIPT10(n, LK(K0(n)), LD(0, K0(n)), ST(0, K0(n)), UL(K0(n)), \
                         LK(K1(n)), LD(0, K1(n)), ST(0, K1(n)), UL(K1(n)), BAR, LDALL(0)) \
    :: else -> SCRIPT7(n, LK(K0(n)), LD(0, K0(n)), ST(0, K0(n)), UL(K0(n)), BAR, LDALL(0), END) \
    fi
#endif

/* Scenario 7: the script of row `row` (node n, thread t): nsec lock sections, then (thread 0)
 * the join of thread 1 if join, a barrier and a read of the total. */
#ifndef MT_NODES
#define MT_NODES 1      /* scenario 7: nodes (0, 1, ...) with two application threads */
#endif
#if defined(MUT_DROP_DIRTY) && !defined(MT_THREADS)
#define MT_THREADS 3    /* (where that mutant shows: a refresh of a dirty copy needs three threads
                           in sections at once, so three locks: MT_LOCKS 3, above) */
#endif
#ifndef MT_THREADS
#define MT_THREADS 2    /* scenario 7: application threads of those nodes (2 or 3) */
#endif
#ifndef MT_SECT
#define MT_SECT 1       /* lock sections of each thread of those nodes */
#endif
#ifndef ST_SECT
#define ST_SECT 1       /* lock sections of the other nodes' one thread */
#endif
#ifndef ST_LAST
#define ST_LAST ST_SECT /* those of the last node (node 2) if it has one thread (0: none) */
#endif
hidden byte k7;
hidden byte ctrn[3];            /* (set-up only) the increments of each counter */
inline MT_SCRIPT(row, n, t, nsec, join) {
    i = 0;
    j = 0;
    do
    :: i < nsec ->
        k7 = (i + t + n) % MT_LOCKS;
        ctrn[k7]++;
        script[(row) * SLEN + j] = LK(k7);
        script[(row) * SLEN + j + 1] = LD(0, k7);
        script[(row) * SLEN + j + 2] = ST(0, k7);
        script[(row) * SLEN + j + 3] = UL(k7);
        j = j + 4;
        i++
    :: else -> break
    od;
    if
    :: join -> script[(row) * SLEN + j] = JOIN; j++
    :: else -> skip
    fi;
#ifndef LOCK_NOBAR
    if
    :: t == 0 -> script[(row) * SLEN + j] = BAR; script[(row) * SLEN + j + 1] = LDALL(0); j = j + 2
    :: else -> skip
    fi;
#endif
    do
    :: j < SLEN -> script[(row) * SLEN + j] = END; j++
    :: else -> break
    od;
    i = 0;
    j = 0;
    k7 = 0
}

inline SET_SCENARIO() {
    ra_on = 1;
    wa_on = 1;
    rwa_on = 0;
    if
    :: scen == 0 ->
        /* STRONG: both pages STRONG everywhere. Page 0 is managed by node 0, which never
         * touches it: its entry migrates after two transactions of the others. */
        MODELS(STRONG, STRONG, STRONG, STRONG, STRONG, STRONG);
        dmgr[0] = 0; dmgr[1] = 1;
        SCRIPT7(0, WR(1), RD(1), END, END, END, END, END);
        SCRIPT7(1, WR(0), RD(1), WR(0), WR(1), END, END, END);
        SCRIPT7(2, RD(0), WR(0), WR(1), RD(0), END, END, END)
    :: scen == 1 ->
        /* RELEASE: page 0 RELEASE everywhere (node 0 manages it and never touches it: the entry
         * migrates, notices are forwarded); page 1: RELEASE writers 1 and 2 (MULTI), node 0
         * reads it under STRONG (flushes). A barrier. */
        MODELS(RELEASE, STRONG, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = 0; dmgr[1] = 0;
        rwa_on = 1;
        SCRIPT7(0, RD(1), BAR, RD(1), END, END, END, END);
        SCRIPT7(1, WR(1), WR(0), BAR, RD(0), RD(1), END, END);
        SCRIPT7(2, WR(0), WR(1), BAR, RD(1), RD(0), END, END)
    :: scen == 2 ->
        /* MIXED: page 0 STRONG everywhere (managed by node 0, migrates); page 1: RELEASE
         * writers 1 and 2, node 0 STRONG. Two barriers. */
        MODELS(STRONG, STRONG, STRONG, RELEASE, STRONG, RELEASE);
        dmgr[0] = 0; dmgr[1] = 0;
        SCRIPT7(0, RD(1), BAR, RD(0), BAR, RD(1), END, END);
        SCRIPT7(1, WR(1), WR(0), BAR, RD(1), BAR, END, END);
        SCRIPT7(2, WR(1), RD(0), BAR, WR(1), BAR, RD(1), END)
    :: scen == 3 ->
        /* AHEAD: both pages RELEASE everywhere (MULTI), managers 2 and 0; releases, then
         * writes that open the next page ahead (write-ahead), pages opened and not written. */
        MODELS(RELEASE, RELEASE, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = 2; dmgr[1] = 0;
#ifdef RWA3
        rwa_on = 1;     /* remote RELEASE write-ahead: 89 million states (README) */
#endif
        SCRIPT7(0, RD(0), RD(1), BAR, RD(0), WR(1), END, END);
        SCRIPT7(1, WR(1), WR(1), WR(0), REL, WR(0), BAR, RD(1));
        SCRIPT7(2, WR(0), REL, WR(0), BAR, RD(1), END, END)
    :: scen == 4 ->
        /* DROP: page 1 RELEASE everywhere, managed by node 0; node 1 owns it and writes it in
         * every interval. Node 0 reads it; the acquire after the next barrier refreshes the
         * copy (used), the one after the next drops it (unused since the refresh) with word to
         * the manager, itself: node 1 stops tracking the page (UNSHARE) while node 2 may be
         * asking to read it, and node 0 itself may fault on it again. Node 1 writes it again
         * (tracked or not); both readers must see that write after the last barrier. */
        MODELS(RELEASE, RELEASE, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = 2; dmgr[1] = 0;
        SCRIPT7(0, BAR, RD(1), BAR, BAR, RD(1), BAR, RD(1));
        SCRIPT8(1, WR(1), BAR, WR(1), BAR, WR(1), BAR, WR(1), BAR);
        SCRIPT7(2, BAR, BAR, BAR, RD(1), BAR, RD(1), END)
    :: scen == 5 ->
        /* KEPT: page 1 RELEASE everywhere, managed by node 0; node 1 owns it. Node 0's read
         * makes node 1 track its writes; node 1 writes it in three intervals in a row (kept open
         * from its third release on: released from snapshots), then in none for two (left open,
         * unchanged, then write-protected again: KEEP_IDLE_MAX), then once more (a write fault
         * again). Nodes 0 and 2 read it after barriers and must see every write released before
         * them. -DWRITE_BACK: in its fourth interval (the page kept open, its spec the value of
         * the third) node 1 writes a temporary value and then the value of its last release back
         * (served_open.c), while node 0's read and node 2's refresh (its acquire's, after the
         * third barrier) may be served a copy in between: the release finds the page equal to
         * the spec, so that copy must have dropped the spec (copy.c mome_copy_served). Node 2
         * reads the page in the next interval. */
        MODELS(RELEASE, RELEASE, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = 2; dmgr[1] = 0;
        SCRIPT10(0, BAR, RD(1), BAR, BAR, RD(1), BAR, BAR, BAR, RD(1), END);
#ifndef WRITE_BACK
        SCRIPT10(1, WR(1), BAR, WR(1), BAR, WR(1), BAR, BAR, BAR, WR(1), BAR);
#else
        SCRIPT14(1, WR(1), BAR, WR(1), BAR, WR(1), BAR, WR(1), BK(1), BAR, BAR, WR(1), BAR, END,
                 END);
#endif
        SCRIPT10(2, BAR, BAR, RD(1), BAR, BAR, RD(1), BAR, BAR, RD(1), END)
    :: scen == 6 ->
        /* LOCK: a counter, the whole content of page 0 (RELEASE everywhere), incremented under
         * the one lock by every node: lock, read, write the value read + 1, unlock (once, or
         * twice for the first LOCK_TWICE nodes, three times for the first LOCK_THRICE); then a
         * barrier and a read of the total (-DLOCKS=2: two counters under two locks). The
         * page's manager and the lock's are chosen by init (pick_pmgr, pick_lmgr); who owns
         * the page (the first node to touch it, then each RELEASE writer that asks for it
         * without a copy) is up to the search. No read- or write-ahead: lock_counter's view is
         * one page. */
        ra_on = 0;
        wa_on = 0;
        MODELS(RELEASE, RELEASE, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = pick_pmgr; dmgr[1] = 0;
        lkmgr[0] = pick_lmgr;
        lkmgr[1] = (pick_lmgr + 1) % N;     /* (LOCKS 2) the second lock: the next node */
        assert(LOCK_THRICE <= LOCK_TWICE && (LOCKS == 2 || LOCK_TOTAL <= 7));   /* 3-bit counters */
        ltotal = LOCK_TOTAL;
        LOCK_SCRIPT(0, LOCK_TWICE > 0, LOCK_THRICE > 0);
        LOCK_SCRIPT(1, LOCK_TWICE > 1, LOCK_THRICE > 1);
        LOCK_SCRIPT(2, LOCK_TWICE > 2, LOCK_THRICE > 2)
    :: scen == 7 ->
        /* THREADS: scenario 6 with two counters of page 0 under two locks, and two application
         * threads in each of the first MT_NODES nodes, sharing the node's page state, release
         * engine and acquires (lock_counter with THREADS 2 and COUNTERS 2): the i-th section of
         * thread t of node n takes counter (i + t + n) mod MT_LOCKS (so a node's two threads hold
         * the two locks at once), MT_SECT sections per thread there, ST_SECT in the other nodes;
         * then thread 0 joins the others, and a barrier and a read of the total. MT_THREADS 3: a
         * third thread there; MT_LOCKS 3: a third counter (bits 6-7: at most 3 increments) under
         * a third lock, managed by the third node, so that three threads of a node can be in
         * sections at once (the merge of another thread's writes needs that). */
        ra_on = 0;
        wa_on = 0;
        mt_on = 1;
        MODELS(RELEASE, RELEASE, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = pick_pmgr; dmgr[1] = 0;
        lkmgr[0] = pick_lmgr;
        lkmgr[1] = (pick_lmgr + 1) % N;
        if
        :: MT_LOCKS > 2 -> lkmgr[NL - 1] = (pick_lmgr + 2) % N     /* a third lock: the third node */
        :: else -> skip
        fi;
        ltotal = 0;
        s = 0;
        do
        :: s < N ->
            if
            :: s < MT_NODES ->
                MT_SCRIPT(s, s, 0, MT_SECT, 1);
                MT_SCRIPT(s + N, s, 1, MT_SECT, 0);
                ltotal = ltotal + 2 * MT_SECT;
                if
                :: MT_THREADS > 2 -> MT_SCRIPT(s + 2 * N, s, 2, MT_SECT, 0); ltotal = ltotal + MT_SECT
                :: else -> skip
                fi
            :: else ->
                MT_SCRIPT(s, s, 0, (s == N - 1 -> ST_LAST : ST_SECT), 0);
                ltotal = ltotal + (s == N - 1 -> ST_LAST : ST_SECT)
            fi;
            s++
        :: else -> break
        od;
        s = 0;
        /* counters 0 and 1: 3 bits; counter 2: bits 6 and 7 of the byte; scripts fit SLEN */
        assert(ltotal <= 14 && ctrn[0] <= 7 && ctrn[1] <= 7 && ctrn[2] <= 3 && MT_SECT <= 2 &&
               ST_SECT <= 3 && ST_LAST <= 3);
        ctrn[0] = 0; ctrn[1] = 0; ctrn[2] = 0
    :: scen == 8 ->
        /* FLUSHED LOCK: scenario 6's counter (page 0, one lock) incremented by RELEASE nodes 1
         * (twice) and 2 (once), while node 0, STRONG on page 0, reads it: its request flushes
         * the MULTI page, the owner's writes made in place and a twinning writer's diff merged,
         * and drops the other holders' copies, which stay mapped until their FLUSH comes. A
         * section whose writes a flush ended has nothing left to release: the next holder of
         * the lock, a dropped holder whose FLUSH is still on its way, must see them all the same
         * (owner.c announce_flushed, directory.c on_notice: MUT_FLUSH_SILENT; release.c
         * mome_rel_acquire's wait makes no difference here, README). Node 0's read sees every
         * write (STRONG); the lock holders, every earlier section's increment. No barrier. */
        ra_on = 0;
        wa_on = 0;
        MODELS(STRONG, STRONG, RELEASE, RELEASE, RELEASE, RELEASE);
        dmgr[0] = pick_pmgr; dmgr[1] = 0;
        lkmgr[0] = pick_lmgr;
        lkmgr[1] = (pick_lmgr + 1) % N;
        ltotal = 3;
        SCRIPT7(0, RD(0), END, END, END, END, END, END);
        SCRIPT8(1, LK(0), LD(0, 0), ST(0, 0), UL(0), LK(0), LD(0, 0), ST(0, 0), UL(0));
        SCRIPT7(2, LK(0), LD(0, 0), ST(0, 0), UL(0), END, END, END)
    fi
}

/* ---- the network: an inbox per node, kept sorted so that equal bags are equal states ---- */

#define ICAP 8          /* messages in flight to one node at once (asserted) */

/* type, src, page, node, x, y, v, d: the fields of each type are listed at SEND sites. */
chan inbox[N] = [ICAP] of { mtype, byte, byte, byte, byte, byte, byte, byte };

hidden byte b_src[ICAP], b_pg[ICAP], b_nd[ICAP], b_x[ICAP], b_y[ICAP], b_v[ICAP], b_d[ICAP];
hidden mtype b_t[ICAP];
hidden byte tk, s_to, s_nd, s_x, s_y, s_v, s_d;
hidden mtype s_t;

/* Take the k-th message of this node's inbox into m_* (locals of the node: see there). */
inline TAKE(k) {
    tk = 0;
    do
    :: tk < k -> inbox[me]?b_t[tk], b_src[tk], b_pg[tk], b_nd[tk], b_x[tk], b_y[tk], b_v[tk],
                     b_d[tk]; tk++
    :: else -> break
    od;
    inbox[me]?m_t, m_src, m_pg, m_nd, m_x, m_y, m_v, m_d;
    tk = 0;
    do
    :: tk < k -> inbox[me]!!b_t[tk], b_src[tk], b_pg[tk], b_nd[tk], b_x[tk], b_y[tk], b_v[tk],
                      b_d[tk]; tk++
    :: else -> break
    od;
    tk = 0
}

/* mome_send from node `me` about page `p`. */
/* (Macros, not inlines: spin cannot pass a conditional expression to an inline.) */
#define SEND(to, t, nd, x, y, v, d) \
    s_to = to; \
    assert(len(inbox[s_to]) < ICAP); \
    s_t = t; s_nd = nd; s_x = x; s_y = y; s_v = v; s_d = d; \
    inbox[s_to]!!s_t, me, p, s_nd, s_x, s_y, s_v, s_d; \
    s_to = 0; s_nd = 0; s_x = 0; s_y = 0; s_v = 0; s_d = 0

/* ---- per node and page: the page table, side record and transaction (page.h) ---- */

#define G (me * P + p)          /* node me's entry of page p in the global arrays */

#define A_NONE 0
#define A_READ 1
#define A_WRITE 2

#define F_BUSY 1
#define F_DIRTY 2
#define F_TRACK 4
#define F_OWNER 8
#define F_SHARED 16
#define F_USED 32
#define F_MAPPED 64     /* mapped in the application's view (an access then does not fault) */
#define F_LISTED 128

#define CLR(v, b) v = (v) & (255 ^ (b))
#define HAS(v, b) (((v) & (b)) != 0)
/* Node sets: a bit per node. */
#define BIT(n) (1 << (n))
#define IN(set, n) (((set) >> (n)) & 1)
#define COUNT(set) (((set) & 1) + (((set) >> 1) & 1) + (((set) >> 2) & 1))

/*
 * Global, as other nodes' checks read them: access rights (the STRONG invariant) and contents
 * (the master's, at a barrier). The rest of a node's state is local to its process (below).
 */
byte acc[N * P];        /* MOME_ACC_* */
byte dat[N * P];        /* the content: 2 bits per writer node (its byte of the page) */

/* Page flags (mome_page_t): pf[p]; ver[p] the version of the master copy this copy reflects;
 * hint[p] the manager hint + 1. */

/* Side record (mome_pext_t): twin, owner, relpend, the flush waiting, stale notice. */
#define X_TWIN 1
#define X_FLUSH 2
#define X_FDROP 4
#define X_SPEC 8        /* the owner's write-ahead copy (x->spec) */
#define X_WROTE 16      /* MOME_PG_WROTE (a page flag in the code: pf has no room) */
#define X_REMOTE 32     /* MOME_PG_REMOTE: a read copy of a master another node holds (idem) */
#define X_KEPT 64       /* MOME_PG_KEPT: the owner's page kept open through releases (idem) */
#define X_DUE 128       /* x->stale_due: an acquire passed the notice while the page was busy */
/* Unchanged releases in a row after which a kept page is write-protected again
 * (MOME_KEEP_IDLE_MAX, 8 in the code: 2 here, so that short scripts reach it). */
#define KEEP_IDLE_MAX 2
/* Transaction (mome_txn_t). */
#define T_ON 1
#define T_GRANTED 2
#define T_DATA 4
#define T_VER 8
#define T_DONE 16
#define T_OP 32
#define T_RW 64
#define T_AHEAD 128
/* Rights (proto.h MOME_RIGHT_*). */
#define R_RW 1
#define R_OWNER 2
#define R_SHARED 4
#define R_TWIN 8

/* ---- per manager and page: the directory entry (directory.c dentry_t) ---- */

#define E_NONE 0
#define E_LIVE 1
#define E_FWD 2
#define B_EXCL 1
#define B_MULTI 2
#define B_MOVING 4
#define B_THIRD 8
#define B_UNSH 16       /* UNSHARE sent to the owner (busy until its UNSHARE_ACK) */

/* Global (the barrier check finds the master through them): whether node m has an entry for
 * page p, and its owner. */
byte dst[N * P];
byte downer[N * P];

/* A request as the directory keeps it: node | write << 2 | model << 3 | flags << 4. */
#define Q_COPY 1
#define Q_AHEAD 2
#define Q_DROP 4        /* not a request: a reader's DROP, queued as one */
#define RQ(n, w, m, f) ((n) | ((w) << 2) | ((m) << 3) | ((f) << 4))

/* Notices waiting for their STALE_ACKs, per manager (directory.c notice_t); token = slot + 1. */
/* ---- per node: application thread, release engine, barrier ---- */

#define S_RUN 0
#define S_FAULT 1
#define S_REL 2
#define S_BAR 3
#define CB_BAR 1        /* a release's callers: bits, CB_APP.. shifted by 3 * thread (CBT) */
#define CB_APP 2
#define CB_ACQ 4
#define CB_UNLOCK 8
#define S_LOCK 4        /* in MomeLock: LOCK_REQ sent, then the acquire at the grant's date */

byte cepoch, ccount, cin;       /* node 0: coord_epoch, coord_count, coord_in */
/*
 * The owners' write notices of a MomeBarrier's release ride on its messages (owner.c bar_own,
 * sync.c coord_notes): bnv/bnd gather them (the newest version, the earliest date per page) as the
 * BAR_ENTERs would bring them to node 0, which copies them into exv/exd for the BAR_EXITs (every
 * node handles its exit before the next barrier can end: the copy stays until then).
 */
byte bnv[P], bnd[P], exv[P], exd[P];
byte adone;                     /* nodes whose application finished its script */
bool finished;                  /* every script done, nothing in flight: the nodes stop */

/*
 * Dates (Lamport clocks) matter only against barrier dates here: a release at barrier epoch e
 * is dated 2e+1, the exit of barrier e 2e+2 (release < BAR_ENTER <= coord_max < exit < any
 * release after the exit, whose clock was raised to the exit date).
 */
#define RELDATE (2 * bepoch + 1)
/* A notice is due at this acquire (release.c apply_stale: dated <= the acquire's date). */
#define DUE(pg) (stdate[pg] != 0 && stdate[pg] <= adate[th] && \
                 !(IN(askip[th], pg) && (stlk[pg] & (BIT(lkcur[th]) | 8)) == 0))
/*
 * Locks (scenario 6): LOCK_REL carries its release's date, which the lock manager keeps as the
 * lock's last (l->last) and a LOCK_GRANT carries to the next holder, whose acquire applies the
 * notices dated <= it. Every release of an epoch is dated 2e+1 here, so that acquire applies
 * every notice this node holds from before the barrier's exit. That is exact for one lock and one
 * application thread per node: every release (an unlock, or a barrier's) is then ordered by the
 * lock chain before the grant (a node releases only in MomeUnlock and MomeBarrier, and a notice
 * reaches a holder only for a release not yet completed, i.e. one before the lock's last release
 * or the node's own), so its Lamport date in the code is <= the grant's date too (the release date
 * travels on LOCK_REL and LOCK_GRANT, and every receive merges the clock: net/msg.c); nor does a
 * notice dated after the grant exist before the next unlock. With two locks (not modelled) a
 * release under the other lock would be concurrent, and its date could fall either side.
 */

/*
 * With two locks (scenario 6, -DLOCKS=2) a release under the other lock is concurrent with the
 * lock's last release, and its date in the code may fall either side of the grant's: the acquire
 * may leave its notice for later. The model tags each release's notices with its lock (LOCKTAG:
 * lock + 1, carried by DIFF's y, NOTICE's and STALE's d; 0 for any other release), a copy's
 * pending notices with the set of their tags (stlk: a bit per lock, bit 3 for untagged), and a
 * lock grant's acquire applies a copy's notices when one is of this lock (or untagged: dated <=
 * the grant's date for sure) and, for the others, as a choice made at the grant (lkpick, askip).
 * That covers every order the dates can take (and some that causality forbids: a release under
 * the other lock that happened before this lock's last release is dated before it in the code).
 */
#define TAGBIT(t) ((t) == 0 -> 8 : (t))
/* (reltag is a set of locks: those the node's threads hold when the release starts, granted and
 * LOCK_REL not yet sent (lkheld): each is unlocked after this release, by a release dated later,
 * so every grant of it that can meet this release's notices is dated after them. One thread: the
 * lock of the unlock, lock + 1, as before. Several: also an acquire's release of this node's
 * writes (stale_dirty) or another thread's unlock, which may carry a held lock's writes.) */
hidden byte lkpick;     /* the choice of a lock grant: skip the notices of the other lock */

/* ---- what the checks compare with ---- */

byte truth[P];          /* every write so far, as the content would be */
byte wmask[P];          /* nodes that wrote the page since the last barrier */

#define BYTE(c, w) (((c) >> (2 * (w))) & 3)
#define MASKW(w) (3 << (2 * (w)))

hidden byte p, i, j, s, c, r, op;
hidden byte rq_n, rq_w, rq_m, rq_f, rq_h, rq_op, rq_ah;
hidden byte e_copy, e_src, e_keep, e_nacks, e_rights, e_ok, e_start, e_mig, e_decl;
hidden byte sd_ret, sd_n, rp_ret, rp_date, df_ack, df_mgr, df_drop, tc_w, tc_op, tc_again;
hidden byte rq_opt, rq_nc, rq_cp, tc_opt, tc_stale, tc_merged, tc_ahead, tc_rw, p_save, ft, wt;
hidden short fr_cb;
hidden byte hk;
hidden byte stcnt, ack_slot, newv, fs_changed, wa_p, rp_snap, rp_idle, rp_closed;

/*
 * The properties, named so that spin's report says which one failed (each is set just before
 * its assert). The last four stand for mome_die calls of the code (data at risk: it stops).
 */
hidden byte writer_beside_strong_copy;  /* a node writes while another holds a STRONG copy */
hidden byte strong_read_stale;          /* a STRONG read misses a write */
hidden byte release_read_stale;         /* a read misses a write released before the barrier */
hidden byte master_lost_write;          /* at a barrier, the master lacks a released write */
hidden byte fwd_to_non_holder;          /* a FWD_* reaches a node without the copy */
hidden byte diff_without_master;        /* a DIFF reaches a node without the master copy */
hidden byte forwarding_loop;            /* a request or notice forwarded around managers */
hidden byte barrier_out_of_turn;        /* BAR_ENTER twice or out of epoch, unexpected BAR_EXIT */
hidden byte lock_read_stale;            /* a lock holder reads the counter without every earlier
                                           section's increment (or a read after the last barrier
                                           misses one) */
hidden byte lock_lost_increment;        /* at the end, the master lacks an increment */
hidden byte lock_out_of_turn;           /* LOCK_REL by a node not holding the lock, or a
                                           LOCK_GRANT nobody asked for (the code warns) */
hidden byte content_over_unreleased;    /* content installed over a copy with writes not
                                           released yet (install(): mome_fatal) */
hidden byte merge_lost_twin;            /* a refresh keeping writes finds no twin
                                           (merge_install: mome_fatal) */
hidden byte decline_unexpected;         /* GRANT_NONE for what is not a write asked ahead
                                           (declined: mome_fatal) */

/* ------------------------------------------------------------------------------------------ */
/* copy.c */

/* mome_pext_put: the side record goes when nothing is left in it (a twinning writer's stays). */
inline PEXT_PUT() {
    if
    :: !HAS(xf[p], X_TWIN | X_FLUSH | X_SPEC) && xrel[p] == 0 && stdate[p] == 0 &&
       !(HAS(pf[p], F_TRACK) && !HAS(pf[p], F_OWNER)) ->
        CLR(xf[p], X_FDROP); xown[p] = 0; xfmgr[p] = 0
    :: else -> skip
    fi
}

/* mome_copy_drop: access none, twin and notices gone; the content stays in the store. */
inline COPY_DROP() {
    acc[G] = A_NONE;
    CLR(pf[p], F_OWNER | F_SHARED | F_TRACK | F_DIRTY | F_MAPPED);
    CLR(xf[p], X_TWIN | X_SPEC | X_KEPT | X_DUE);
    twin[p] = 0;
    spec[p] = 0;
    kidle[p] = 0;
    stdate[p] = 0;
    stver[p] = 0;
    stlk[p] = 0;
    PEXT_PUT()
}

/* mome_copy_discard (install's, with several threads): as a drop, but a notice that came meanwhile
 * stays (this content may lack its change); x->merging stays too (merge_install checks it). */
inline COPY_DISCARD() {
    acc[G] = A_NONE;
    CLR(pf[p], F_OWNER | F_SHARED | F_TRACK | F_DIRTY | F_MAPPED);
    CLR(xf[p], X_TWIN | X_SPEC | X_KEPT);
    twin[p] = 0;
    spec[p] = 0;
    kidle[p] = 0;
    PEXT_PUT()
}

/* mome_copy_stop_writing (the write protection is implicit: writes check acc). */
inline STOP_WRITING() {
    if
    :: acc[G] == A_WRITE -> acc[G] = A_READ
    :: else -> skip
    fi
}

#define TRACKED_CLEAN ((pf[p] & (F_TRACK | F_DIRTY)) == F_TRACK)

/* mome_copy_start_writing: twin unless owner; the owner's write-ahead keeps a copy (spec). */
inline START_WRITING(ahead) {
    if
    :: !HAS(pf[p], F_OWNER) && !HAS(xf[p], X_TWIN) ->
        twin[p] = dat[G];
        xf[p] = xf[p] | X_TWIN
    :: HAS(pf[p], F_OWNER) && ahead && !HAS(xf[p], X_SPEC) ->
        COV
        spec[p] = dat[G];
        xf[p] = xf[p] | X_SPEC
    :: else -> skip
    fi;
    pf[p] = pf[p] | F_DIRTY | F_LISTED
}

/* mome_copy_forget_spec -> fs_changed: 1 if the page differs from the spec (or there was none) */
inline FORGET_SPEC() {
    if
    :: HAS(xf[p], X_SPEC) ->
        fs_changed = (dat[G] != spec[p]);
        CLR(xf[p], X_SPEC);
        spec[p] = 0;
        kidle[p] = 0;   /* read only beside a spec (a kept page's): left as it is in the code */
        PEXT_PUT()
    :: else -> fs_changed = 1
    fi
}

inline SETTLE_STALE() {
    if
    :: stdate[p] != 0 && ver[p] >= stver[p] ->
        COV
        stdate[p] = 0;
        stver[p] = 0;
        stlk[p] = 0;
        CLR(xf[p], X_DUE);
        PEXT_PUT()
    :: else -> skip
    fi
}

/* mome_copy_note_stale(date = m_x, ver = m_v); m_d: the lock of the release (LOCKTAG) */
inline NOTE_STALE() {
    if
    :: (acc[G] == A_NONE && !HAS(pf[p], F_BUSY)) || m_v <= ver[p] -> COV skip
    :: else ->
        COV
        if
        :: stdate[p] == 0 -> CLR(xf[p], X_DUE)   /* a first notice: no acquire passed it yet */
        :: else -> skip
        fi;
        stlk[p] = stlk[p] | TAGBIT(m_d);
        if
        :: stdate[p] == 0 || m_x < stdate[p] -> stdate[p] = m_x
        :: else -> skip
        fi;
        if
        :: m_v > stver[p] -> stver[p] = m_v
        :: else -> skip
        fi
    fi
}

/* ------------------------------------------------------------------------------------------ */
/* The application's accesses, and what they must see. */

/* A read: a STRONG copy is current; a RELEASE copy has every write released before the last
 * barrier, and this node's own writes. */
/* The counters (scenario 6): a read under the lock sees every earlier section's increment
 * (truth[p] holds the counters as the increments made them); a write stores the value read + 1. */
#define CUR_OP script[(me + N * th) * SLEN + apc[th]]
#define CTR(c, k) (((c) >> (3 * (k))) & 7)      /* counter k: 3 bits (counter 2: 2, bits 6-7) */
#define CTRMASK(k) (7 << (3 * (k)))
inline LOCK_READ() {
    if
    :: OP_CTR(CUR_OP) == 3 -> lock_read_stale = (dat[G] != truth[p])
    :: else -> lock_read_stale = (CTR(dat[G], OP_CTR(CUR_OP)) != CTR(truth[p], OP_CTR(CUR_OP)))
    fi;
    assert(!lock_read_stale);
    lval[th] = CTR(dat[G], OP_CTR(CUR_OP));
    apc[th]++
}

inline LOCK_WRITE() {
    lval[th] = lval[th] + 1;
    dat[G] = (dat[G] & (255 ^ CTRMASK(OP_CTR(CUR_OP)))) | (lval[th] << (3 * OP_CTR(CUR_OP)));
    lval[th] = CTR(truth[p], OP_CTR(CUR_OP)) + 1;
    truth[p] = (truth[p] & (255 ^ CTRMASK(OP_CTR(CUR_OP)))) | (lval[th] << (3 * OP_CTR(CUR_OP)));
    wmask[p] = wmask[p] | BIT(me);
    lval[th] = 0;
    apc[th]++
}

inline DO_READ() {
    if
    :: (CUR_OP >> 4) == K_LD -> LOCK_READ()
    :: (CUR_OP >> 4) != K_LD && MODEL(me, p) == STRONG ->
        strong_read_stale = (dat[G] != truth[p]);
        assert(!strong_read_stale);
        apc[th]++
    :: (CUR_OP >> 4) != K_LD && MODEL(me, p) != STRONG ->
        s = 0;
        do
        :: s < N ->
            if
            :: s == me || !IN(wmask[p], s) ->
                release_read_stale = (BYTE(dat[G], s) != BYTE(truth[p], s));
                assert(!release_read_stale)
            :: else -> skip
            fi;
            s++
        :: else -> break
        od;
        apc[th]++
    fi
}

inline DO_WRITE() {
    if
    :: (CUR_OP >> 4) == K_ST -> LOCK_WRITE()
    :: else ->
        /* an increment; K_BACK: a decrement, the field back to its value before the last write
         * (a temporary value written over, e.g. restored before the release: WRITE_BACK) */
        newv = (BYTE(truth[p], me) + ((CUR_OP >> 4) == K_BACK -> 3 : 1)) & 3;
        dat[G] = (dat[G] & (255 ^ MASKW(me))) | (newv << (2 * me));
        truth[p] = (truth[p] & (255 ^ MASKW(me))) | (newv << (2 * me));
        wmask[p] = wmask[p] | BIT(me);
        apc[th]++
    fi
}

/* ------------------------------------------------------------------------------------------ */
/* requester.c */

#define MGR_OF(pg) (hint[pg] != 0 -> hint[pg] - 1 : DEFMGR(pg))   /* mome_seg_manager */

/*
 * request(): a transaction for page p of node me, rq_w write, waiters rq_h (thread t's access at
 * bits 2t, 2t + 1: 1 read, 2 write), op rq_op (of thread rq_opt's acquire), read-ahead rq_ah,
 * rq_nc (REQ_CONTENT: content wanted though a copy is here, a refresh keeping writes).
 * Scenario 7 (mt_on): while this node's released diffs of the page are in flight (xrel) a request
 * for content is held until they are acknowledged (t->held, sent from ON_NOTICE_ACK).
 */
inline REQUEST() {
    assert(!HAS(tf[p], T_ON));
    tf[p] = T_ON | (rq_op -> T_OP : 0) | (rq_ah -> T_AHEAD : 0);
    twait[p] = rq_h;
    top[p] = (rq_op -> rq_opt : 0);
    pf[p] = pf[p] | F_BUSY;
    rq_cp = (acc[G] != A_NONE && !rq_nc);
    if
#ifndef MUT_NO_HOLD
    :: mt_on && xrel[p] != 0 && !rq_cp -> COV thld[p] = 1 + rq_w
#endif
    :: else ->
        SEND(MGR_OF(p), (rq_w -> WRITE_REQ : READ_REQ), me,
             MODEL(me, p) | (((rq_cp -> Q_COPY : 0) | (rq_ah -> Q_AHEAD : 0)) << 1),
             0, 0, 0)
    fi;
    rq_ah = 0; rq_nc = 0; rq_opt = 0; rq_cp = 0
}

/* merge_request: content for a copy with unreleased writes, merged on arrival (merge_install);
 * its views write-protected meanwhile (xmg: writes fault and wait). */
inline MERGE_REQUEST() {
    rq_w = 1; rq_nc = 1;
    REQUEST();
    tmg = tmg | BIT(p);
    xmg = xmg | BIT(p)
}

/* The acquire's op (of thread t): one answer came (mome_op_put); the last one ends it. */
inline OP_PUT(t) {
    acqpend[t]--;
    if
    :: acqpend[t] == 0 ->
        assert(ast[t] == S_BAR || ast[t] == S_LOCK);     /* a barrier's, or a lock grant's */
        askip[t] = 0;
        adate[t] = 0;
        ast[t] = S_RUN;
        apc[t]++
    :: else -> skip
    fi
}

inline TAKE_RIGHTS() {
    acc[G] = (HAS(tf[p], T_RW) -> A_WRITE : A_READ);
    CLR(pf[p], F_OWNER | F_SHARED | F_TRACK);
    CLR(xf[p], X_REMOTE);
    if
    :: !HAS(trights[p], R_OWNER) && !HAS(tf[p], T_RW) && town[p] != me -> xf[p] = xf[p] | X_REMOTE
    :: else -> skip
    fi;
    if
    :: HAS(trights[p], R_OWNER) -> pf[p] = pf[p] | F_OWNER
    :: else -> skip
    fi;
    if
    :: HAS(tf[p], T_RW) && HAS(trights[p], R_SHARED) -> COV pf[p] = pf[p] | F_SHARED | F_TRACK
    :: else -> skip
    fi;
    if
    :: HAS(tf[p], T_RW) && HAS(trights[p], R_TWIN) ->
        COV
        pf[p] = pf[p] | F_TRACK;
        xown[p] = town[p]
    :: else -> skip
    fi;
    if
    :: !HAS(pf[p], F_TRACK) && HAS(pf[p], F_DIRTY) -> COV CLR(pf[p], F_DIRTY)
    :: else -> skip
    fi;
    if
    :: HAS(tf[p], T_VER) -> ver[p] = tver[p]
    :: else -> skip
    fi;
    SETTLE_STALE()
}

/* A waiter of the transaction (thread t, kind (tc_w >> 2t) & 3: 1 read, 2 write): woken if the
 * copy serves it (it makes its access now: README), else it asks again (tc_again). */
hidden byte wk;
inline WAKE(t) {
    wk = (tc_w >> (2 * t)) & 3;
    if
    :: wk != 0 && (wk == 2 -> acc[G] == A_WRITE : acc[G] != A_NONE) ->
        if
        :: wk == 2 && TRACKED_CLEAN -> COV START_WRITING(0)
        :: else -> skip
        fi;
        pf[p] = pf[p] | F_MAPPED;
        assert(ast[t] == S_FAULT);
        /* The woken thread makes its access now (README: the page could be taken back first,
         * which only repeats the transaction, without end). */
        ast[t] = S_RUN;
        th = t;
        if
        :: wk == 1 -> DO_READ()
        :: else -> DO_WRITE()
        fi
    :: wk != 0 && !(wk == 2 -> acc[G] == A_WRITE : acc[G] != A_NONE) ->
        COV
        tc_again = tc_again | (wk << (2 * t))
    :: else -> skip
    fi;
    wk = 0
}

/* txn_try_complete, txn_complete. brings_stale (scenario 7): the content lacks a change an
 * acquire of this node passed while the transaction was in flight (X_DUE): refetch. */
inline TRY_COMPLETE() {
    if
    :: HAS(tf[p], T_GRANTED) && HAS(tf[p], T_DATA) && tgot[p] >= tneed[p] ->
        TAKE_RIGHTS();
        CLR(pf[p], F_BUSY);
        hint[p] = tmgr[p] + 1;
        if
        :: !HAS(tf[p], T_DONE) -> SEND(tmgr[p], DONE, me, 0, 0, 0, 0)
        :: else -> skip
        fi;
        tc_w = twait[p];
        tc_op = HAS(tf[p], T_OP);
        tc_opt = top[p];
        tc_ahead = HAS(tf[p], T_AHEAD);
        tc_rw = HAS(tf[p], T_RW);
        tc_merged = IN(tmg, p);
#ifndef MUT_DUE_MT_ONLY
        tc_stale = (!HAS(trights[p], R_OWNER) &&
#else
        tc_stale = (mt_on && !HAS(trights[p], R_OWNER) &&   /* MUTANT: as the model had it */
#endif
                    !(HAS(tf[p], T_RW) && !HAS(trights[p], R_TWIN)) &&
                    stdate[p] != 0 && HAS(xf[p], X_DUE) && ver[p] < stver[p]);
        CLR(tmg, BIT(p));
        tf[p] = 0; trights[p] = 0; tneed[p] = 0; tgot[p] = 0; tver[p] = 0; tmgr[p] = 0;
        town[p] = 0; twait[p] = 0; top[p] = 0;
        if
        :: tc_stale && HAS(pf[p], F_DIRTY) ->
            /* refetch of a copy with unreleased writes: merged again */
            COV
            CLR(pf[p], F_MAPPED);
            rq_h = tc_w; rq_op = tc_op; rq_opt = tc_opt;
            MERGE_REQUEST()
        :: tc_stale && !HAS(pf[p], F_DIRTY) ->
            /* refetch: the copy goes, the waiters ask again (the op with them), else it ends */
            COV
            COPY_DROP();
            if
            :: tc_w != 0 ->
                rq_w = ((tc_w & 42) != 0); rq_h = tc_w; rq_op = tc_op; rq_opt = tc_opt;
                REQUEST()
            :: else ->
                if
                :: tc_op -> OP_PUT(tc_opt)
                :: else -> skip
                fi
            fi
        :: else ->
            /* a write opened ahead (RELEASE): twinned now, as its write fault would */
            if
            :: tc_ahead && tc_w == 0 && tc_rw && TRACKED_CLEAN ->
                COV
#ifndef MUT_AHEAD_UNTRACKED
                START_WRITING(1)
#else
                CLR(pf[p], F_TRACK)     /* MUTANT: mapped writable, its writes not tracked */
#endif
            :: else -> skip
            fi;
            if
            :: (tc_ahead && tc_w == 0) || tc_merged -> COV pf[p] = pf[p] | F_MAPPED   /* map_all */
            :: else -> skip
            fi;
            tc_again = 0;
            wt = 0;
            do
            :: wt < NT -> WAKE(wt); wt++
            :: else -> break
            od;
            wt = 0;
            if
            :: tc_again != 0 ->
                COV
                rq_w = 1; rq_h = tc_again; rq_op = 0;
                REQUEST()
            :: else -> skip
            fi;
            tc_again = 0;
            if
            :: tc_op -> OP_PUT(tc_opt)
            :: else -> skip
            fi
        fi;
        tc_stale = 0; tc_merged = 0; tc_ahead = 0; tc_rw = 0; tc_opt = 0
    :: else -> skip
    fi
}

/* install(): a copy still held goes first (the store holds a page: no atomic install); scenario 7:
 * a notice stays (mome_copy_discard), and content for a copy with unreleased writes is merged
 * (merge_install) or stops the job. */
inline INSTALL(content) {
    if
    :: IN(tmg, p) -> MERGE_INSTALL(content)
    :: else ->
        content_over_unreleased = (mt_on && HAS(pf[p], F_DIRTY) && HAS(xf[p], X_TWIN));
        assert(!content_over_unreleased);
        if
        :: acc[G] != A_NONE && !mt_on -> COV COPY_DROP()
        :: acc[G] != A_NONE && mt_on -> COV COPY_DISCARD()
        :: else -> skip
        fi;
        dat[G] = content;
        tf[p] = tf[p] | T_DATA
    fi
}

/* merge_install: this node's changes (page XOR twin) go on top of the fresh content, which
 * becomes the twin; a release that waited for the page (x->late) releases it now (rel_merged). */
inline MERGE_INSTALL(content) {
    merge_lost_twin = !HAS(xf[p], X_TWIN);      /* (x->flushed: no FLUSH in scenario 7) */
    assert(!merge_lost_twin);
    sd_n = dat[G] ^ twin[p];
    twin[p] = content;
    dat[G] = content ^ sd_n;
    sd_n = 0;
    tf[p] = tf[p] | T_DATA;
    CLR(xmg, BIT(p));
    if
    :: IN(xlate, p) -> COV REL_MERGED()
    :: else -> skip
    fi
}

/* take_grant(rights = m_y, acks = m_x, mgr) */
inline TAKE_GRANT(mgr) {
    tf[p] = tf[p] | T_GRANTED | (HAS(m_y, R_RW) -> T_RW : 0);
    trights[p] = m_y;
    tneed[p] = m_x;
    tmgr[p] = mgr
}


/* on_grant: node = owner, x = acks, y = rights, v = GRANT_ZERO; mgr = src */
/* declined(): GRANT_NONE for a write asked ahead: the transaction ends with nothing, no
 * DONE; threads that faulted on the page meanwhile ask for it themselves. -DMUT_DECLINE_DROPS:
 * they are forgotten (they would wait for ever). */
inline DECLINED() {
    decline_unexpected = (!HAS(tf[p], T_AHEAD) || HAS(tf[p], T_GRANTED) || tgot[p] != 0 ||
                          HAS(tf[p], T_OP));
    assert(!decline_unexpected);
    CLR(pf[p], F_BUSY);
    tc_w = twait[p];
    tf[p] = 0; trights[p] = 0; tneed[p] = 0; tgot[p] = 0; tver[p] = 0; tmgr[p] = 0;
    town[p] = 0; twait[p] = 0; top[p] = 0;
    if
#ifndef MUT_DECLINE_DROPS
    :: tc_w != 0 -> COV rq_w = ((tc_w & 42) != 0); rq_h = tc_w; rq_op = 0; REQUEST()
#endif
    :: else -> skip
    fi;
    tc_w = 0
}

inline ON_GRANT() {
    assert(!IN(tdrop, p));
    if
    :: !HAS(tf[p], T_ON) -> assert(false) /* the node stops: "... which this node did not ask
                                             for" (a warning until 2026-12-07: helper-115) */
    :: HAS(tf[p], T_ON) && m_v == 2 -> COV DECLINED()
    :: HAS(tf[p], T_ON) && m_v != 2 ->
        TAKE_GRANT(m_src);
        town[p] = m_nd;
        if
        :: m_v -> COV tver[p] = 0; tf[p] = tf[p] | T_VER; INSTALL(0)
        :: else -> COV tf[p] = tf[p] | T_DATA
        fi;
        tc_due = 1      /* txn_try_complete: in the handler's last part (ON) */
    fi
}

/* on_data: node = mgr, x = acks, y = rights, v = ver, d = content (DATA_GRANT always set) */
inline ON_DATA() {
    assert(!IN(tdrop, p));
    if
    :: !HAS(tf[p], T_ON) -> COV skip
    :: else ->
        TAKE_GRANT(m_nd);
        town[p] = m_src;
        tver[p] = m_v;
        tf[p] = tf[p] | T_VER;
        if
        :: tgot[p] >= tneed[p] -> COV SEND(tmgr[p], DONE, me, 0, 0, 0, 0); tf[p] = tf[p] | T_DONE
        :: else -> skip
        fi;
        INSTALL(m_d);
        tc_due = 1
    fi
}

inline ON_INV_ACK() {
    if
    :: !HAS(tf[p], T_ON) -> assert(false) /* the node stops: "... which this node did not ask
                                             for" (counted until 2026-12-07: helper-115) */
    :: else -> tgot[p]++; tc_due = 1
    fi
}

/* ------------------------------------------------------------------------------------------ */
/* owner.c and release.c */

/*
 * send_diff(flush_mgr = df_mgr, NIL for a release): page XOR twin to the owner; sd_ret = 1 when
 * an acknowledgement will follow.
 */
inline SEND_DIFF(date) {
    sd_ret = 0;
    if
    :: HAS(xf[p], X_TWIN) ->
        sd_n = dat[G] ^ twin[p];
        if
        :: df_mgr == NIL && sd_n != 0 -> xf[p] = xf[p] | X_WROTE
        :: df_mgr == NIL && sd_n == 0 -> CLR(xf[p], X_WROTE)
        :: else -> skip
        fi;
        if
        :: sd_n != 0 ->
            pf[p] = pf[p] | F_USED;
            if
            :: df_mgr == NIL ->
                COV
#ifndef MUT_DROP_DIFF
                SEND(xown[p], DIFF, me, 0, reltag, date, sd_n); /* origin, flush, mgr|tag, date, diff */
                xrel[p]++;
                sd_ret = 1
#else
                skip                                        /* MUTANT: the diff is lost */
#endif
            :: else ->
                COV
                SEND(xown[p], DIFF, me, 1, df_mgr, date, sd_n);
                sd_ret = 1
            fi
        :: else -> COV skip
        fi;
        CLR(xf[p], X_TWIN);
        twin[p] = 0;
        PEXT_PUT()
    :: else -> skip
    fi
}

/* mome_owner_release_page -> rp_ret acknowledgements to wait for */
inline RELEASE_PAGE() {
    rp_ret = 0;
    rp_snap = 0;
    rp_idle = 0;
    rp_closed = 0;
    if
    :: HAS(pf[p], F_DIRTY) && acc[G] != A_NONE && HAS(xf[p], X_KEPT) ->
        /* Kept open (mome_copy_kept_snapshot): released from a snapshot if it differs from the
         * last one published (the spec), else left open for KEEP_IDLE_MAX - 1 releases in a row,
         * then write-protected (mome_copy_kept_idle) and released as any other page, keeping
         * MOME_PG_WROTE (rp_closed: kept open again at the release after its next write). The
         * code doubles the limit at each close; a fixed one here. */
        if
#ifndef MUT_KEPT_SNAPSHOT_SKIPPED
        :: !HAS(xf[p], X_SPEC) || dat[G] != spec[p] -> COV rp_snap = 1
#else
        :: !HAS(xf[p], X_SPEC) -> rp_snap = 1   /* MUTANT: a changed kept page taken as unchanged */
#endif
        :: else ->
            kidle[p]++;
            if
            :: kidle[p] < KEEP_IDLE_MAX -> COV rp_idle = 1; CLR(xf[p], X_WROTE)
            :: else -> COV kidle[p] = 0; CLR(xf[p], X_KEPT); rp_closed = 1
            fi
        fi
    :: else -> skip
    fi;
    if
    :: HAS(pf[p], F_DIRTY) && acc[G] != A_NONE && !rp_idle ->
        CLR(pf[p], F_DIRTY);
        if
        :: !HAS(pf[p], F_OWNER) ->
            df_mgr = NIL;
            SEND_DIFF(rp_date);
            rp_ret = sd_ret
        :: else ->
            if
            :: rp_snap -> fs_changed = 1
            :: else -> FORGET_SPEC()
            fi;
            if
            :: !fs_changed && !rp_closed -> COV CLR(xf[p], X_WROTE)   /* opened ahead, not written */
            :: !fs_changed && rp_closed -> COV xf[p] = xf[p] | X_WROTE /* closed unchanged */
            :: else -> xf[p] = xf[p] | X_WROTE; ver[p]++
            fi;
            if
            :: rp_snap ->
                /* mome_copy_reopen: the snapshot is the spec, the page stays open and dirty */
                spec[p] = dat[G];
                xf[p] = xf[p] | X_SPEC;
                kidle[p] = 0;
                pf[p] = pf[p] | F_DIRTY
            :: else -> skip
            fi;
            if
            :: !fs_changed -> skip
            :: fs_changed && HAS(pf[p], F_SHARED) && relbar ->
                /* a MomeBarrier's: the notice rides on BAR_ENTER, nothing awaited (no xrel) */
                COV
                if
                :: ver[p] > bnv[p] -> bnv[p] = ver[p]
                :: else -> skip
                fi;
                if
                :: bnd[p] == 0 || rp_date < bnd[p] -> bnd[p] = rp_date
                :: else -> skip
                fi
            :: fs_changed && HAS(pf[p], F_SHARED) && !relbar ->
                COV
                SEND(MGR_OF(p), NOTICE, me, rp_date, 0, ver[p], reltag); /* origin, date, hops, ver, tag */
                xrel[p]++;
                rp_ret = 1
            :: fs_changed && !HAS(pf[p], F_SHARED) -> COV skip
            fi
        fi
    :: else -> skip
    fi
}

/* The acquire of thread th (acquire_apply): stale copies dated <= adate[th] go to their model.
 * Scenario 7: a busy page's notice is marked passed (mome_copy_stale_passed: X_DUE, the copy
 * unmapped unless the owner's), and a copy with unreleased writes (another thread's) is refreshed
 * keeping them (refresh_keeping_writes). */
inline ACQUIRE_APPLY() {
    acqpend[th] = 1;
#ifndef MUT_NO_ACQUIRE
    p = 0;
    do
    :: p < P ->
        if
#ifndef MUT_DUE_MT_ONLY
        :: DUE(p) && HAS(pf[p], F_BUSY) ->
#else
        :: mt_on && DUE(p) && HAS(pf[p], F_BUSY) ->
#endif
            COV
            xf[p] = xf[p] | X_DUE;
            if
            :: acc[G] != A_NONE && !HAS(pf[p], F_OWNER) -> COV CLR(pf[p], F_MAPPED)
            :: else -> skip
            fi
        :: DUE(p) && !HAS(pf[p], F_BUSY) ->
            /* mome_req_catch_up */
            if
            :: ver[p] >= stver[p] || HAS(pf[p], F_OWNER) ->
                COV
                stdate[p] = 0; stver[p] = 0; stlk[p] = 0; CLR(xf[p], X_DUE); PEXT_PUT()
#ifndef MUT_DROP_DIRTY
            :: !(ver[p] >= stver[p] || HAS(pf[p], F_OWNER)) && mt_on && HAS(pf[p], F_DIRTY) ->
                /* refresh_keeping_writes: write-protected, the notice stays until it lands */
                COV
                CLR(pf[p], F_USED);
                acqpend[th]++;
                rq_h = 0; rq_op = 1; rq_opt = th;
                MERGE_REQUEST()
            :: !(ver[p] >= stver[p] || HAS(pf[p], F_OWNER)) && !(mt_on && HAS(pf[p], F_DIRTY)) ->
#else
            :: !(ver[p] >= stver[p] || HAS(pf[p], F_OWNER)) ->   /* MUTANT: dirty copies refreshed */
                CLR(pf[p], F_DIRTY);                            /* as clean ones: writes lost */
#endif
                if
                :: HAS(pf[p], F_USED) ->
                    /* mome_req_refresh */
                    COV
                    rq_w = (acc[G] == A_WRITE && HAS(pf[p], F_TRACK) && !HAS(pf[p], F_OWNER));
                    CLR(pf[p], F_USED);
                    COPY_DROP();
                    acqpend[th]++;
                    rq_h = 0; rq_op = 1; rq_opt = th;
                    REQUEST()
                :: else ->
                    /* mome_req_drop: a remote read copy goes with word to its manager */
                    if
                    :: acc[G] == A_READ && HAS(xf[p], X_REMOTE) &&
                       !HAS(pf[p], F_OWNER | F_TRACK | F_DIRTY) ->
                        COV
                        COPY_DROP();
                        CLR(xf[p], X_REMOTE);
#ifndef MUT_DROP_UNACKED
                        tf[p] = T_ON | T_OP;
                        top[p] = th;
                        tdrop = tdrop | BIT(p);
                        pf[p] = pf[p] | F_BUSY;
                        acqpend[th]++;
#endif
                        SEND(MGR_OF(p), DROP, me, MODEL(me, p) | (Q_DROP << 1), 0, 0, 0)
                    :: else -> COV COPY_DROP()
                    fi
                fi
            fi
        :: else -> skip
        fi;
        p++
    :: else -> break
    od;
#endif
    OP_PUT(th)
}

/* DROP_ACK (requester.c on_drop_ack): faults that came meanwhile ask now; a notice noted
 * meanwhile goes (no copy here; a request from now on follows it). */
inline ON_DROP_ACK() {
    if
    :: !IN(tdrop, p) -> assert(false)     /* the node stops: "... which this node did not drop"
                                             (a warning until 2026-12-07: helper-115) */
    :: else ->
        COV
        CLR(tdrop, BIT(p));
        tc_w = twait[p];
        tc_op = HAS(tf[p], T_OP);
        tc_opt = top[p];
        tf[p] = 0; twait[p] = 0; top[p] = 0;
        CLR(pf[p], F_BUSY);
        hint[p] = m_src + 1;
        if
        :: acc[G] == A_NONE ->
            stdate[p] = 0; stver[p] = 0; stlk[p] = 0; CLR(xf[p], X_DUE); PEXT_PUT()
        :: else -> skip
        fi;
        if
        :: tc_w != 0 -> COV rq_w = ((tc_w & 42) != 0); rq_h = tc_w; rq_op = 0; REQUEST()
        :: else -> skip
        fi;
        if
        :: tc_op -> OP_PUT(tc_opt)
        :: else -> skip
        fi;
        tc_opt = 0
    fi
}

/* The callers of a release (rwait_t): a bit per caller, CBT(kind, thread); a MomeBarrier's is
 * thread 0's. */
#define CBT(cb, t) ((cb) << (3 * (t)))

/* A callback of the release that completed, for thread t (finish_release's loop over rel_cur). */
inline RELEASE_CALLBACKS(t) {
    if
    :: HAS(fr_cb, CBT(CB_APP, t)) -> assert(ast[t] == S_REL); ast[t] = S_RUN; apc[t]++
    :: else -> skip
    fi;
    if
    :: HAS(fr_cb, CBT(CB_ACQ, t)) -> COV th = t; ACQUIRE_APPLY()
    :: else -> skip
    fi;
    if
    :: HAS(fr_cb, CBT(CB_UNLOCK, t)) ->
        /* sync.c unlock_after_release: LOCK_REL with this release's date; MomeUnlock returns */
        COV
        assert(ast[t] == S_REL);
        p = 0;
        SEND(lkmgr[lkcur[t]], LOCK_REL, 0, lkcur[t], t, 0, RELDATE);  /* x = lock, y = thread, d = date */
        CLR(lkheld, BIT(t));
        lkcur[t] = 0;
        ast[t] = S_RUN;
        apc[t]++
    :: else -> skip
    fi
}

/* finish_release: the release is known everywhere; the callers that came meanwhile (rel_next) get
 * a release of their own, started now; then tell who waited. (A loop, not recursion: that next
 * release may complete at once.) */
inline FINISH_RELEASE() {
    fr_cb = 0;
    do
    :: relrun && relpd == 0 ->
        fr_cb = fr_cb | relcb;
        relrun = 0;
        reltag = 0;
        relbar = 0;
        relcb = 0;
        if
        :: relnext != 0 -> COV relcb = relnext; relnext = 0; START_RELEASE_BODY()
        :: else -> skip
        fi
    :: else -> break
    od;
    if
    :: HAS(fr_cb, CB_BAR) ->
        p = 0;
        SEND(0, BAR_ENTER, 0, bepoch, 0, 0, 0)             /* x = epoch */
    :: else -> skip
    fi;
    ft = 0;
    do
    :: ft < NT -> RELEASE_CALLBACKS(ft); ft++
    :: else -> break
    od;
    ft = 0;
    fr_cb = 0
}

/* start_release for the callers in relcb (relbar: a MomeBarrier's own, its owner notices riding
 * on the barrier's messages). */
inline START_RELEASE_BODY() {
    relrun = 1;
    /* the locks this node's threads hold (granted, LOCK_REL not sent): their unlocks come after
     * this release, so every later grant of them is dated after it (TAGBIT) */
    reltag = (IN(lkheld, 0) -> BIT(lkcur[0]) : 0) | (IN(lkheld, 1) -> BIT(lkcur[1]) : 0) |
             (IN(lkheld, 2) -> BIT(lkcur[2]) : 0);
    relpd = 0;
#ifndef MUT_FLUSH_DIFF_UNACKED
    p = 0;
    do
    :: p < P -> relpd = relpd + xrel[p]; p++     /* flushed diffs still in flight (flushes_out) */
    :: else -> break
    od;
#endif
    rp_date = RELDATE;
    p = 0;
    do
    :: p < P ->
        if
        :: HAS(pf[p], F_LISTED) ->
            CLR(pf[p], F_LISTED);
            /* to_protect (release.c): mome_copy_keeps_open */
            if
            :: (pf[p] & (F_DIRTY | F_TRACK | F_OWNER | F_BUSY)) == (F_DIRTY | F_TRACK | F_OWNER) &&
               HAS(xf[p], X_WROTE | X_KEPT) && acc[G] == A_WRITE ->
                COV
                xf[p] = xf[p] | X_KEPT
            :: else -> CLR(xf[p], X_KEPT)
            fi;
            if
            :: IN(xmg, p) ->
                /* x->merging: released once the refresh's content is in (rel_merged) */
                COV
                xlate = xlate | BIT(p);
                relpd++
            :: else ->
                RELEASE_PAGE();
                relpd = relpd + rp_ret
            fi;
            if
            :: HAS(pf[p], F_DIRTY) && acc[G] != A_NONE -> pf[p] = pf[p] | F_LISTED
            :: else -> skip
            fi
        :: else -> skip
        fi;
        p++
    :: else -> break
    od
}

/* (finish_release runs at the end of the step: fin_due, see ON; nothing else follows it there.) */
inline START_RELEASE() {
    START_RELEASE_BODY();
    if
    :: relpd == 0 -> fin_due = 1
    :: else -> skip
    fi
}

/* mome_rel_release(cb): behind a running release, the caller waits for the next (rel_next). */
inline REL_RELEASE(cb) {
    if
    :: relrun -> COV relnext = relnext | (cb)
    :: else -> relcb = (cb); relbar = 0; START_RELEASE()
    fi
}

/* mome_rel_release_barrier: the barrier's own release only if it is its only caller. */
inline REL_RELEASE_BARRIER() {
    if
    :: relrun || relnext != 0 -> COV REL_RELEASE(CB_BAR)
    :: else -> relcb = CB_BAR; relbar = 1; START_RELEASE()
    fi
}

/* acked(1) */
inline ACKED() {
    if
    :: relpd > 0 ->
        relpd--;
        if
        :: relpd == 0 -> fin_due = 1    /* finish_release, next in the step (ON) */
        :: else -> skip
        fi
    :: else -> skip
    fi
}

/* rel_merged: the page a release waited for (x->late) is merged: released now (its diff is this
 * node's own writes). p is kept: the handler goes on with it. */
inline REL_MERGED() {
    CLR(xlate, BIT(p));
    p_save = p;
    rp_date = RELDATE;
    RELEASE_PAGE();
    p = p_save;
    if
    :: rp_ret == 0 -> COV ACKED()
    :: else -> skip
    fi;
    p = p_save;
    p_save = 0
}

/* do_flush(mgr = df_mgr, drop = df_drop) */
inline DO_FLUSH() {
    assert(!IN(xmg, p));        /* (x->flushed is not modelled: no FLUSH in scenario 7) */
    df_ack = 0;
    if
    :: acc[G] != A_NONE && HAS(pf[p], F_DIRTY) ->
        CLR(pf[p], F_DIRTY);
        CLR(xf[p], X_KEPT);
        if
        :: HAS(pf[p], F_OWNER) ->
            COV
            FORGET_SPEC();
            ver[p] = ver[p] + fs_changed;
#ifndef MUT_FLUSH_SILENT
            /* announce_flushed: the owner's flushed writes, through the manager running the
             * flush (which tells the copies it drops), awaited like a release's notice */
            if
            :: fs_changed ->
                COV
                SEND(df_mgr, NOTICE, me, RELDATE, 0, ver[p], 0);
                xrel[p]++;
                relpd = relpd + relrun
            :: else -> skip
            fi;
#endif
            skip
        :: else ->
            COV
            SEND_DIFF(RELDATE);
            df_ack = sd_ret;
#ifndef MUT_FLUSH_DIFF_UNACKED
            /* The flushed change is this node's write in flight too: its releases wait for the
             * owner's acknowledgement (a NOTICE_ACK) like for a released diff (flush_sent). */
            xrel[p] = xrel[p] + sd_ret;
            relpd = relpd + (relrun -> sd_ret : 0);
#endif
            skip
        fi
    :: else -> skip
    fi;
    if
    :: !df_ack -> SEND(df_mgr, FLUSH_ACK, me, 0, 0, 0, 0)     /* node = the flushed one */
    :: else -> skip
    fi;
    if
    :: acc[G] == A_NONE -> skip
    :: else ->
        if
        :: df_drop -> COV COPY_DROP()
        :: else ->
            COV
            STOP_WRITING();
            CLR(pf[p], F_OWNER | F_SHARED | F_TRACK | F_DIRTY);
            CLR(xf[p], X_KEPT);
            PEXT_PUT()
        fi
    fi
}

/* on_flush (mome_owner_flush): wait for this page's releases in flight. mgr = src, x = drop */
inline ON_FLUSH() {
    df_mgr = m_src;
    df_drop = m_x;
#ifndef MUT_FLUSH_NO_WAIT
    if
    :: xrel[p] != 0 ->
        COV
        xf[p] = xf[p] | X_FLUSH | (df_drop -> X_FDROP : 0);
        xfmgr[p] = df_mgr
    :: else -> DO_FLUSH()
    fi
#else
    DO_FLUSH()                                              /* MUTANT: no wait */
#endif
}

/* merge + on_diff: origin = node, x = flush, y = mgr (a flush's) or the lock tag (a release's),
 * v = date, d = diff */
inline ON_DIFF() {
    /* "diff ... cannot be merged: this node holds no copy of the master" (mome_die) */
    diff_without_master = (acc[G] == A_NONE);
    assert(!diff_without_master);
    dat[G] = dat[G] ^ m_d;
    if
    :: HAS(xf[p], X_SPEC) -> COV spec[p] = spec[p] ^ m_d   /* others' changes are not its writes */
    :: else -> skip
    fi;
    ver[p]++;
    if
    :: m_x ->
        COV
        SEND(m_y, FLUSH_ACK, m_nd, 0, 0, 0, 0);
#ifndef MUT_FLUSH_DIFF_UNACKED
#ifndef MUT_FLUSH_SILENT
        /* announced through the manager running the flush, the writer its origin */
        SEND(m_y, NOTICE, m_nd, m_v, 0, ver[p], 0);
#else
        SEND(m_nd, NOTICE_ACK, 0, 0, 0, 0, 0);                 /* MUTANT: told to nobody */
#endif
#endif
        skip
    :: else -> COV SEND(MGR_OF(p), NOTICE, m_nd, m_v, 0, ver[p], m_y)   /* d = the lock tag */
    fi
}

/* released() for one page of a NOTICE_ACK, then acked(1) */
inline ON_NOTICE_ACK() {
    if
    :: xrel[p] != 0 ->
        xrel[p]--;
        if
        :: xrel[p] == 0 && HAS(xf[p], X_FLUSH) ->
            COV
            df_mgr = xfmgr[p];
            df_drop = HAS(xf[p], X_FDROP);
            CLR(xf[p], X_FLUSH | X_FDROP);
            xfmgr[p] = 0;
            PEXT_PUT();
            DO_FLUSH()
        :: else -> PEXT_PUT()
        fi;
        if
        :: xrel[p] == 0 && thld[p] != 0 ->
            /* mome_req_released: the request held for these diffs leaves now (t->held) */
            COV
            SEND(MGR_OF(p), (thld[p] == 2 -> WRITE_REQ : READ_REQ), me, MODEL(me, p), 0, 0, 0);
            thld[p] = 0
        :: else -> skip
        fi
    :: else -> skip
    fi;
    ACKED()
}

/* ------------------------------------------------------------------------------------------ */
/* holder.c */

inline BUMP_IF_UNTRACKED() {
    if
    :: acc[G] == A_WRITE && !HAS(pf[p], F_TRACK) -> COV ver[p]++
    :: else -> skip
    fi
}

/*
 * mome_copy_served (from stable_bytes, for every copy this node sends): the copy carries the
 * page's version, so if the owner keeps a spec (a page kept open or opened ahead: what that version
 * holds for every other node) and the bytes sent differ from it, the spec goes and the next release
 * publishes the page (a kept page: a snapshot; opened ahead: FORGET_SPEC answers changed). With
 * the spec kept, a page written back to it before that release would look unchanged, and the node
 * served would keep the bytes it got (WRITE_BACK; tests/integration/served_open.c).
 */
inline COPY_SERVED() {
#ifndef MUT_SERVED_SPEC_KEPT
    if
    :: HAS(xf[p], X_SPEC) && dat[G] != spec[p] ->
        COV
        CLR(xf[p], X_SPEC);
        spec[p] = 0;
        kidle[p] = 0;   /* (read only beside a spec, as in FORGET_SPEC) */
        PEXT_PUT()
    :: else -> skip
    fi
#else
    skip                                            /* MUTANT: the spec stays */
#endif
}

/* send_copy: DATA to the requester (node) with the delegated grant; mgr = src of the FWD. */
/* "forwarded ... which this node does not hold: the directory is inconsistent" (mome_die) */
#define SEND_COPY(acks, rights) \
    fwd_to_non_holder = !e_ok; \
    assert(!fwd_to_non_holder); \
    SEND(m_nd, DATA, m_src, acks, rights, ver[p], dat[G]); \
    COPY_SERVED()

/* FWD_READ: node = requester, x = model */
inline ON_FWD_READ() {
    e_ok = (acc[G] != A_NONE);
    if
    :: e_ok -> BUMP_IF_UNTRACKED(); STOP_WRITING()
    :: else -> skip
    fi;
    SEND_COPY(0, 0)
}

/* FWD_WRITE: node = requester, x = acks, y = rights, v = FWD_KEEP */
inline ON_FWD_WRITE() {
    e_ok = (acc[G] != A_NONE);
    if
    :: e_ok -> BUMP_IF_UNTRACKED(); STOP_WRITING()
    :: else -> skip
    fi;
    SEND_COPY(m_x, m_y);
    if
    :: m_v -> COV FORGET_SPEC(); CLR(pf[p], F_OWNER | F_SHARED | F_TRACK | F_DIRTY);
              CLR(xf[p], X_KEPT)
    :: else -> COV COPY_DROP()
    fi
}

/* FWD_SNAP: node = requester, y = rights (0 or RW|TWIN), x = model */
inline ON_FWD_SNAP() {
    e_ok = (acc[G] != A_NONE);
    if
    :: e_ok ->
        BUMP_IF_UNTRACKED();
        if
        :: HAS(pf[p], F_OWNER) ->
            /* start_sharing */
            COV
            pf[p] = pf[p] | F_SHARED;
            if
            :: acc[G] == A_WRITE && !HAS(pf[p], F_TRACK) ->
                COV
                pf[p] = pf[p] | F_TRACK;
                CLR(pf[p], F_DIRTY)
            :: else -> skip
            fi
        :: else -> skip
        fi
    :: else -> skip
    fi;
    SEND_COPY(0, m_y)
}

/* UNSHARE (holder.c on_unshare): nobody else holds it: the owner stops tracking its writes. */
inline ON_UNSHARE() {
    if
    :: HAS(pf[p], F_OWNER) && acc[G] == A_WRITE ->
        COV
        FORGET_SPEC();
        CLR(pf[p], F_SHARED | F_TRACK | F_DIRTY);
        CLR(xf[p], X_KEPT)
    :: else -> COV skip
    fi;
    SEND(m_src, UNSHARE_ACK, me, 0, 0, 0, 0)
}

/* INV: node = requester (who counts the acks) */
inline ON_INV() {
    if
    :: acc[G] != A_NONE -> COV COPY_DROP()
    :: else -> COV skip
    fi;
    SEND(m_nd, INV_ACK, 0, 0, 0, 0, 0)
}

/* STALE: v = ver, x = date, y = token */
inline ON_STALE() {
    NOTE_STALE();
    SEND(m_src, STALE_ACK, 0, 0, m_y, 0, 0)
}

/* ------------------------------------------------------------------------------------------ */
/* directory.c (entry at node me for page p, index X) */

#define OTHERS_HOLD(n) (COUNT(dcs[p]) > IN(dcs[p], n))
#define HOLDS (IN(dcs[p], rq_n) && HAS(rq_f, Q_COPY))
#define MULTI_RIGHTS(n) (HAS(dbits[p], B_MULTI) -> (R_OWNER | (OTHERS_HOLD(n) -> R_SHARED : 0)) : 0)

inline ADD_HOLDER(n, m) {
    dcs[p] = dcs[p] | BIT(n);
    CLR(dsing[p], BIT(n));
    if
    :: m == STRONG -> dsing[p] = dsing[p] | BIT(n)
    :: else -> skip
    fi
}

inline DROP_HOLDER(n) {
    CLR(dcs[p], BIT(n));
    CLR(dsing[p], BIT(n));
    CLR(dwr[p], BIT(n))
}

/* grant(): GRANT to the requester: node = owner, x = acks, y = rights, v = GRANT_ZERO */
#define GRANT_TO(zero, rights, acks, owner) \
    SEND(rq_n, GRANT, ((owner) != NIL -> (owner) : rq_n), acks, rights, zero, 0)

/* fwd(): node = requester, x = model or acks, y = rights, v = flags */
#define FWD(to, t, x, rights, flags) SEND(to, t, rq_n, x, rights, flags, 0)

inline START_READ() {
    e_copy = HOLDS;
    if
    :: !e_copy && rq_n != downer[G] -> DROP_HOLDER(rq_n)
    :: else -> skip
    fi;
    if
    :: downer[G] == NIL && COUNT(dcs[p]) == 0 && !HAS(rq_f, Q_AHEAD) ->
        COV
        downer[G] = rq_n;
        dbits[p] = dbits[p] | B_EXCL;
        ADD_HOLDER(rq_n, rq_m);
        GRANT_TO(1, R_RW, 0, rq_n)
    :: downer[G] == NIL && !(COUNT(dcs[p]) == 0 && !HAS(rq_f, Q_AHEAD)) ->
        COV
        ADD_HOLDER(rq_n, rq_m);
        GRANT_TO(1, 0, 0, rq_n)
    :: downer[G] != NIL && rq_n == downer[G] ->
        COV
        e_rights = ((HAS(dbits[p], B_EXCL) || (HAS(dbits[p], B_MULTI) && IN(dwr[p], rq_n))) ->
                    R_RW : 0);
        ADD_HOLDER(rq_n, rq_m);
        e_rights = e_rights | MULTI_RIGHTS(rq_n);
        GRANT_TO(0, e_rights, 0, rq_n)
    :: downer[G] != NIL && rq_n != downer[G] && HAS(dbits[p], B_MULTI) ->
        COV
        FWD(downer[G], FWD_SNAP, rq_m, 0, 0);
        ADD_HOLDER(rq_n, rq_m)
    :: downer[G] != NIL && rq_n != downer[G] && !HAS(dbits[p], B_MULTI) &&
       HAS(dbits[p], B_EXCL) ->
        /* STRONG and RELEASE both stop the writer (model.h stops_writer) */
        COV
        FWD(downer[G], FWD_READ, rq_m, 0, 0);
        CLR(dbits[p], B_EXCL);
        ADD_HOLDER(rq_n, rq_m)
    :: downer[G] != NIL && rq_n != downer[G] && !HAS(dbits[p], B_MULTI) &&
       !HAS(dbits[p], B_EXCL) && e_copy ->
        COV
        ADD_HOLDER(rq_n, rq_m);
        GRANT_TO(0, 0, 0, downer[G])
    :: downer[G] != NIL && rq_n != downer[G] && !HAS(dbits[p], B_MULTI) &&
       !HAS(dbits[p], B_EXCL) && !e_copy ->
        COV
        e_src = (IN(dcs[p], me) -> me : downer[G]);
        FWD(e_src, FWD_READ, rq_m, 0, 0);
        ADD_HOLDER(rq_n, rq_m)
    fi;
    dbusy[p] = rq_n
}

#define INV_TO(to) SEND(to, INV, rq_n, 0, 0, 0, 0)

inline START_WRITE_SINGLE() {
    e_copy = HOLDS;
    e_src = ((!e_copy && downer[G] != NIL && downer[G] != rq_n) -> downer[G] : NIL);
    e_nacks = 0;
    s = 0;
    do
    :: s < N ->
        if
        :: s == rq_n || s == e_src || !IN(dcs[p], s) -> skip
        :: else ->
#ifdef MUT_SKIP_INV
            if
            :: e_nacks == 0 -> INV_TO(s)
            :: else -> skip                      /* MUTANT: the second holder keeps its copy */
            fi;
#else
            INV_TO(s);
#endif
            COV
            DROP_HOLDER(s);
            e_nacks++
        fi;
        s++
    :: else -> break
    od;
#ifdef MUT_SKIP_INV
    if
    :: e_nacks > 1 -> e_nacks = 1
    :: else -> skip
    fi;
#endif
    if
    :: e_src != NIL ->
        COV
        FWD(e_src, FWD_WRITE, e_nacks, R_RW, 0);
        DROP_HOLDER(e_src)
    :: else ->
        COV
        GRANT_TO((!e_copy && rq_n != downer[G]), R_RW, e_nacks, rq_n)
    fi;
    downer[G] = rq_n;
    dbits[p] = dbits[p] | B_EXCL;
    ADD_HOLDER(rq_n, rq_m)
}

inline START_WRITE_MULTI_FROM_SINGLE() {
    e_copy = HOLDS;
    e_src = ((!e_copy && downer[G] != NIL && downer[G] != rq_n) -> downer[G] : NIL);
    e_keep = (e_src != NIL && !IN(dsing[p], e_src));
    e_nacks = 0;
    s = 0;
    do
    :: s < N ->
        if
        :: s == rq_n || s == e_src || !IN(dsing[p], s) -> skip
        :: else -> COV INV_TO(s); DROP_HOLDER(s); e_nacks++
        fi;
        s++
    :: else -> break
    od;
    if
    :: e_src != NIL && !e_keep -> DROP_HOLDER(e_src)
    :: else -> skip
    fi;
    ADD_HOLDER(rq_n, rq_m);
    e_rights = R_RW | R_OWNER | (OTHERS_HOLD(rq_n) -> R_SHARED : 0);
    if
    :: e_src != NIL && e_keep -> COV FWD(e_src, FWD_WRITE, e_nacks, e_rights, e_keep)
    :: e_src != NIL && !e_keep -> COV FWD(e_src, FWD_WRITE, e_nacks, e_rights, e_keep)
    :: else -> COV GRANT_TO((!e_copy && rq_n != downer[G]), e_rights, e_nacks, rq_n)
    fi;
    downer[G] = rq_n;
    CLR(dbits[p], B_EXCL);
    dbits[p] = dbits[p] | B_MULTI;
    dwr[p] = BIT(rq_n)
}

inline START_WRITE() {
    if
    :: !HOLDS && rq_n != downer[G] -> DROP_HOLDER(rq_n)
    :: else -> skip
    fi;
    if
    :: !HAS(dbits[p], B_MULTI) && rq_m == STRONG -> START_WRITE_SINGLE()
    :: !HAS(dbits[p], B_MULTI) && rq_m != STRONG -> START_WRITE_MULTI_FROM_SINGLE()
    :: HAS(dbits[p], B_MULTI) && rq_n == downer[G] ->
        COV
        dwr[p] = dwr[p] | BIT(rq_n);
        ADD_HOLDER(rq_n, rq_m);
        GRANT_TO(0, R_RW | MULTI_RIGHTS(rq_n), 0, rq_n)
    :: HAS(dbits[p], B_MULTI) && rq_n != downer[G] && HOLDS ->
        COV
        dwr[p] = dwr[p] | BIT(rq_n);
        ADD_HOLDER(rq_n, rq_m);
        GRANT_TO(0, R_RW | R_TWIN, 0, downer[G])
    :: HAS(dbits[p], B_MULTI) && rq_n != downer[G] && !HOLDS ->
        COV
        dwr[p] = dwr[p] | BIT(rq_n);
        ADD_HOLDER(rq_n, rq_m);
        FWD(downer[G], FWD_SNAP, 0, R_RW | R_TWIN, 0)
    fi;
    dbusy[p] = rq_n
}

/* MULTI -> STRONG: every writer releases and stops, notified copies go; then serve rq_*. */
inline BEGIN_FLUSH() {
    dsaved[p] = RQ(rq_n, rq_w, rq_m, rq_f);
    dfl[p] = 0;
    dbusy[p] = rq_n;
    s = 0;
    do
    :: s < N ->
        if
        :: !IN(dcs[p], s) && !IN(dwr[p], s) -> skip
        :: else ->
            SEND(s, FLUSH, 0, (s != downer[G]), 0, 0, 0);          /* x = FLUSH_DROP */
            if
            :: s != downer[G] -> COV DROP_HOLDER(s)
            :: else -> COV skip
            fi;
            dfl[p] = dfl[p] | BIT(s)                    /* FLUSHING: its FLUSH_ACK awaited */
        fi;
        s++
    :: else -> break
    od;
    dwr[p] = 0;
    CLR(dbits[p], B_MULTI | B_EXCL);
    if
    :: downer[G] != NIL -> ADD_HOLDER(downer[G], RELEASE)
    :: else -> skip
    fi
}

/* start_drop: a reader dropped its copy; the owner alone holds it now: UNSHARE, busy. */
inline START_DROP() {
    e_ok = (rq_n != downer[G] && IN(dcs[p], rq_n) && !IN(dwr[p], rq_n));
    if
    :: e_ok -> COV DROP_HOLDER(rq_n)
    :: else -> COV skip
    fi;
    SEND(rq_n, DROP_ACK, me, 0, 0, 0, 0);
    if
    :: e_ok && HAS(dbits[p], B_MULTI) && downer[G] != NIL && !OTHERS_HOLD(downer[G]) &&
       (dwr[p] & (7 ^ BIT(downer[G]))) == 0 ->
        COV
        SEND(downer[G], UNSHARE, me, 0, 0, 0, 0);
#ifndef MUT_UNSHARE_NOT_BUSY
        dbusy[p] = downer[G];
        dbits[p] = dbits[p] | B_UNSH
#else
        skip                                        /* MUTANT: requests served meanwhile */
#endif
    :: else -> skip
    fi
}

/* ahead_declined: a STRONG write asked ahead of a page a node holds (or MULTI); a RELEASE one of
 * a page another node writes alone (its read-ahead would stop that writer). */
#define DECLINE_AHEAD (rq_w && HAS(rq_f, Q_AHEAD) && \
                       (rq_m == STRONG -> \
                        (downer[G] != NIL || COUNT(dcs[p]) != 0 || HAS(dbits[p], B_MULTI)) : \
                        (HAS(dbits[p], B_EXCL) && downer[G] != NIL && downer[G] != rq_n)))

/* write_ahead_ok: a write asked ahead is served as one only where it takes nothing from anyone
 * (a page nobody holds, or another writer of a multiple-writer page); elsewhere as a read. */
#define WRITE_AHEAD_OK (downer[G] == NIL -> COUNT(dcs[p]) == 0 : \
                        (HAS(dbits[p], B_MULTI) && downer[G] != rq_n))

/* start(): serve the request in rq_*; a declined one (GRANT_NONE, v = 2) leaves the entry free. */
inline START() {
    if
    :: HAS(rq_f, Q_DROP) -> START_DROP()
    :: !HAS(rq_f, Q_DROP) && DECLINE_AHEAD -> COV GRANT_TO(2, 0, 0, rq_n); e_decl = 1
    :: !HAS(rq_f, Q_DROP) && !DECLINE_AHEAD && HAS(dbits[p], B_MULTI) && rq_m == STRONG ->
        BEGIN_FLUSH()
    :: !HAS(rq_f, Q_DROP) && !DECLINE_AHEAD && !(HAS(dbits[p], B_MULTI) && rq_m == STRONG) ->
        if
        :: !rq_w || (HAS(rq_f, Q_AHEAD) && !WRITE_AHEAD_OK) -> START_READ()
        :: else -> START_WRITE()
        fi
    fi
}

inline UNPACK(q) {
    rq_n = (q) & 3; rq_w = ((q) >> 2) & 1; rq_m = ((q) >> 3) & 1; rq_f = (q) >> 4
}

/* Forward the request in rq_* (hops rq_h) to `to` (mome_msg_forward). */
#define FORWARD_REQ(to) \
    forwarding_loop = (rq_h >= HOPMAX);  /* "loops between managers" */ \
    assert(!forwarding_loop); \
    SEND(to, (HAS(rq_f, Q_DROP) -> DROP : (rq_w -> WRITE_REQ : READ_REQ)), rq_n, \
         rq_m | (rq_f << 1), rq_h + 1, 0, 0)

/* READ_REQ, WRITE_REQ, DROP: node = requester, x = model | flags << 1, y = hops */
inline ON_REQUEST() {
    rq_n = m_nd; rq_w = (m_t == WRITE_REQ); rq_m = m_x & 1; rq_f = m_x >> 1; rq_h = m_y;
    if
    :: dst[G] == E_NONE -> COV assert(DEFMGR(p) != me); FORWARD_REQ(DEFMGR(p))
    :: dst[G] == E_FWD -> COV FORWARD_REQ(dfwd[p])
    :: dst[G] == E_LIVE && (dbusy[p] != NIL || HAS(dbits[p], B_MOVING)) ->
        COV
        assert(dqn[p] < QCAP);
        dq[p * QCAP + dqn[p]] = RQ(rq_n, rq_w, rq_m, rq_f);
        dqn[p]++
    :: dst[G] == E_LIVE && dbusy[p] == NIL && !HAS(dbits[p], B_MOVING) -> e_start = 1
    fi
}

/* run_queue: the next queued request, if the entry is free (at most one starts). */
inline RUN_QUEUE() {
    if
    :: dqn[p] > 0 && dbusy[p] == NIL && !HAS(dbits[p], B_MOVING) && dst[G] == E_LIVE ->
        COV
        UNPACK(dq[p * QCAP]);
        dq[p * QCAP] = dq[p * QCAP + 1];
        dq[p * QCAP + 1] = dq[p * QCAP + 2];
        dq[p * QCAP + 2] = 0;
        dqn[p]--;
        e_start = 1
    :: else -> skip
    fi
}

/* DONE: node = requester */
inline ON_DONE() {
    if
    :: dst[G] == E_NONE || dbusy[p] != m_nd || dfl[p] != 0 || HAS(dbits[p], B_UNSH) ->
        assert(false) /* the node stops: "... ended a transaction ... not open here" (but with no
                         entry, a segment destroyed meanwhile: not modelled; a debug line until
                         2026-12-07: helper-115) */
    :: else ->
        dbusy[p] = NIL;
        /* maybe_migrate */
        e_mig = 0;
        if
        :: m_nd != me && dqn[p] == 0 ->
            if
            :: IN(dcs[p], me) -> CLR(dbits[p], B_THIRD)
            :: !IN(dcs[p], me) && !HAS(dbits[p], B_THIRD) -> dbits[p] = dbits[p] | B_THIRD
            :: !IN(dcs[p], me) && HAS(dbits[p], B_THIRD) ->
                CLR(dbits[p], B_THIRD);
                COV
#ifndef NO_MIGRATE
                /* DIR_MOVE: node = owner, x = EXCL 1 | UNTOUCHED 2 | MULTI 4,
                 * y = CS | SINGLE << 3, v = WRITERS */
                SEND(m_nd, DIR_MOVE, downer[G],
                     (HAS(dbits[p], B_EXCL) -> 1 : 0) | (downer[G] == NIL -> 2 : 0) |
                     (HAS(dbits[p], B_MULTI) -> 4 : 0),
                     dcs[p] | (dsing[p] << 3), dwr[p], 0);
                dbits[p] = dbits[p] | B_MOVING;
                e_mig = 1
#else
                skip
#endif
            fi
        :: else -> skip
        fi;
        if
        :: !e_mig -> RUN_QUEUE()
        :: else -> skip
        fi
    fi
}

/* UNSHARE_ACK: node = the owner */
inline ON_UNSHARE_ACK() {
    if
    :: dst[G] != E_LIVE || !HAS(dbits[p], B_UNSH) || dbusy[p] != m_nd ->
        assert(false) /* the node stops: "... an UNSHARE ... this node did not send" (a warning
                         until 2026-12-07: helper-115) */
    :: else ->
        COV
        CLR(dbits[p], B_UNSH);
        dbusy[p] = NIL;
        RUN_QUEUE()
    fi
}

inline ON_FLUSH_ACK() {
    if
    :: dst[G] == E_NONE || !IN(dfl[p], m_nd) -> COV skip /* "unexpected FLUSH_ACK" */
    :: else ->
        CLR(dfl[p], BIT(m_nd));
        if
        :: dfl[p] == 0 -> COV UNPACK(dsaved[p]); dsaved[p] = 0; e_start = 1
        :: else -> skip
        fi
    fi
}

/* NOTICE: node = origin, v = ver, x = date, y = hops */
inline ON_NOTICE() {
    if
    :: dst[G] == E_NONE || dst[G] == E_FWD ->
        /* forward_notice: on alone, to where the entry is */
        COV
        forwarding_loop = (m_y >= HOPMAX);
        assert(!forwarding_loop);
        SEND((dst[G] == E_FWD -> dfwd[p] : DEFMGR(p)), NOTICE, m_nd, m_x, m_y + 1, m_v, m_d)
    :: dst[G] == E_LIVE && HAS(dbits[p], B_MOVING) ->
        /* hold_notice: it follows the entry on DIR_MOVE_ACK (the code keeps a list; here
         * HSLOT: one per release in flight, an owner's next release waiting for this one's
         * NOTICE_ACK, but two writers' releases under two locks can be out at once) */
        COV
        hk = p * HSLOT;
        if
        :: hnv[hk] != 0 -> COV hk++; assert(hnv[hk] == 0)
        :: else -> skip
        fi;
        hnv[hk] = m_v; hno[hk] = m_nd; hnd[hk] = m_x; hny[hk] = m_y; hnl[hk] = m_d;
        hk = 0
    :: else ->
        stcnt = 0;
        ack_slot = 0;
        do
        :: ack_slot < NSLOT && ntleft[ack_slot] != 0 -> ack_slot++
        :: else -> break
        od;
        s = 0;
        do
        :: s < N ->
            if
#ifndef MUT_FLUSH_SILENT
            /* a copy an open flush drops (FLUSH_ACK not in) is still mapped there: told too */
            :: (!IN(dcs[p], s) && !IN(dfl[p], s)) || s == downer[G] || s == m_nd -> skip
#else
            :: !IN(dcs[p], s) || s == downer[G] || s == m_nd -> skip   /* MUTANT */
#endif
            :: else ->
#ifndef MUT_NO_STALE
                assert(ack_slot < NSLOT);
                SEND(s, STALE, 0, m_x, ack_slot + 1, m_v, m_d);  /* date, token, ver, tag */
                stcnt++
#else
                skip                                        /* MUTANT: holders not told */
#endif
            fi;
            s++
        :: else -> break
        od;
#ifdef MUT_EARLY_NOTICE_ACK
        stcnt = 0                                             /* MUTANT: ack before STALE_ACKs */
#endif
        if
        :: stcnt != 0 ->
            COV
            ntleft[ack_slot] = stcnt;
            ntorig[ack_slot] = m_nd;
            ntpage[ack_slot] = p
        :: else -> COV SEND(m_nd, NOTICE_ACK, 0, 0, 0, 0, 0)
        fi
    fi
}

/* STALE_ACK: y = token */
inline ON_STALE_ACK() {
    ack_slot = m_y - 1;
    if
    :: m_y == 0 || ntleft[ack_slot] == 0 -> COV skip   /* "unknown notice" */
    :: else ->
        ntleft[ack_slot]--;
        if
        :: ntleft[ack_slot] == 0 ->
            COV
            p = ntpage[ack_slot];
            SEND(ntorig[ack_slot], NOTICE_ACK, 0, 0, 0, 0, 0);
            ntorig[ack_slot] = 0;
            ntpage[ack_slot] = 0
        :: else -> skip
        fi
    fi
}

/* DIR_MOVE: take over the entry (replacing a forwarder) */
inline ON_MOVE() {
    if
    :: dst[G] == E_FWD -> COV skip          /* it comes back: replace the forwarder */
    :: else -> COV skip
    fi;
    dst[G] = E_LIVE;
    downer[G] = (HAS(m_x, 2) -> NIL : m_nd);
    dbits[p] = (HAS(m_x, 1) -> B_EXCL : 0) | (HAS(m_x, 4) -> B_MULTI : 0);
    dcs[p] = m_y & 7;
    dsing[p] = m_y >> 3;
    dwr[p] = m_v;
    dfwd[p] = NIL;
    dbusy[p] = NIL;
    dfl[p] = 0;
    dsaved[p] = 0;
    assert(dqn[p] == 0);
    hint[p] = me + 1;
    SEND(m_src, DIR_MOVE_ACK, 0, 0, 0, 0, 0)
}

inline ON_MOVE_ACK() {
    if
    :: dst[G] != E_LIVE || !HAS(dbits[p], B_MOVING) -> assert(false)
        /* the node stops: "... which this node did not move" (the model destroys no segment, the
         * one case where such an ack is expected; a warning until 2026-12-07: helper-115) */
    :: else ->
        /* a forwarder: only fwd is read from now on */
        dst[G] = E_FWD;
        dfwd[p] = m_src;
        dbits[p] = 0;
        downer[G] = NIL;
        dcs[p] = 0; dsing[p] = 0; dwr[p] = 0;
        do
        :: dqn[p] > 0 ->
            COV
#ifndef MUT_MOVE_DROPS_QUEUE
            UNPACK(dq[p * QCAP]);
            rq_h = 0;
            FORWARD_REQ(dfwd[p]);
#endif
            dq[p * QCAP] = dq[p * QCAP + 1];
            dq[p * QCAP + 1] = dq[p * QCAP + 2];
            dq[p * QCAP + 2] = 0;
            dqn[p]--
        :: else -> break
        od;
        hk = p * HSLOT;
        do
        :: hk < p * HSLOT + HSLOT && hnv[hk] != 0 ->
            COV
            forwarding_loop = (hny[hk] >= HOPMAX);
            assert(!forwarding_loop);
            SEND(dfwd[p], NOTICE, hno[hk], hnd[hk], hny[hk] + 1, hnv[hk], hnl[hk]);
            hnv[hk] = 0; hno[hk] = 0; hnd[hk] = 0; hny[hk] = 0; hnl[hk] = 0;
            hk++
        :: else -> break
        od;
        hk = 0
    fi
}

/* ------------------------------------------------------------------------------------------ */
/* sync.c: the barrier */

/* The checks at the barrier: every node released; the master of each page holds every write. */
inline BARRIER_CHECK() {
    p = 0;
    do
    :: p < P ->
        r = NIL;
        s = 0;
        do
        :: s < N ->
            if
            :: dst[s * P + p] == E_LIVE && r == NIL -> r = downer[s * P + p]
            :: else -> skip
            fi;
            s++
        :: else -> break
        od;
        if
        :: r == NIL ->
            master_lost_write = (truth[p] != 0);
            assert(!master_lost_write)
        :: else ->
            master_lost_write = (dat[r * P + p] != truth[p]);
            assert(!master_lost_write)
        fi;
        wmask[p] = 0;
        p++
    :: else -> break
    od
}

/* BAR_ENTER at node 0: x = epoch */
inline ON_BAR_ENTER() {
    assert(me == 0);
    /* "entered barrier ... (again, or out of turn)" */
    barrier_out_of_turn = (m_x != cepoch || IN(cin, m_src));
    assert(!barrier_out_of_turn);
    cin = cin | BIT(m_src);
    ccount++;
#ifdef MUT_BAR_EARLY
    if
    :: ccount == N - 1 -> ccount = N                        /* MUTANT: one node short */
    :: else -> skip
    fi;
#endif
    if
    :: ccount >= N ->
        BARRIER_CHECK();
        p = 0;
        do
        :: p < P -> exv[p] = bnv[p]; exd[p] = bnd[p]; bnv[p] = 0; bnd[p] = 0; p++
        :: else -> break
        od;
        p = 0;
        s = 0;
        do
        :: s < N -> SEND(s, BAR_EXIT, 0, cepoch, 0, 0, 0); s++
        :: else -> break
        od;
        cepoch++;
        ccount = 0;
        cin = 0
    :: else -> skip
    fi
}

/* mome_rel_acquire at date adate: stale_dirty (merging first keeps this node's own writes), then
 * acquire_apply. */
inline ACQUIRE() {
#ifndef MUT_ACQUIRE_NO_WAIT
    c = relrun;                 /* this node's changes on their way: waited for (helper-113) */
#else
    c = 0;                                                  /* MUTANT: does not wait */
#endif
    p = 0;
    do
    :: p < P ->
        if
        :: DUE(p) && HAS(pf[p], F_DIRTY) -> c = 1
#ifndef MUT_ACQUIRE_NO_WAIT
        :: xrel[p] != 0 -> c = 1   /* flushes_out: a flushed diff or notice unacknowledged */
#endif
        :: else -> skip
        fi;
        p++
    :: else -> break
    od;
    if
    :: c -> COV c = 0; REL_RELEASE(CBT(CB_ACQ, th))
    :: else -> ACQUIRE_APPLY()
    fi
}

/* BAR_EXIT: x = epoch; then the acquire */
inline ON_BAR_EXIT() {
    barrier_out_of_turn = (!bcmd || m_x != bepoch);   /* "ended barrier ..., which this node is not in" */
    assert(!barrier_out_of_turn);
    bcmd = 0;
    bepoch++;
    th = 0;
    adate[0] = 2 * m_x + 2;
    /* The exit's write notices (release.c mome_rel_barrier_acquire): every node's copies. */
#ifndef MUT_BAR_NO_NOTES
    p = 0;
    do
    :: p < P ->
        if
        :: exv[p] != 0 -> m_x = exd[p]; m_v = exv[p]; NOTE_STALE()
        :: else -> skip
        fi;
        p++
    :: else -> break
    od;
#endif
    ACQUIRE()
}

/* ------------------------------------------------------------------------------------------ */
/* sync.c: locks (id l managed by node lkmgr[l]; its record lives in that node's locals) */

/* grant(): LOCK_GRANT of lock l to requester rid (node | thread << 2: the token of the code) with
 * the date of the lock's last release (d). */
#define LQ (N * NT)     /* room in a lock's queue */
inline LOCK_GRANT_TO(l, rid) {
    lk_held[l] = 1;
    lk_holder[l] = rid;
    p = 0;
    SEND((rid) & 3, LOCK_GRANT, 0, l, (rid) >> 2, 0, lk_last[l])   /* x = lock, y = thread, d = date */
}

/* LOCK_REQ at the lock's manager (on_lock_req): granted if free, else queued (FIFO). x = lock,
 * y = the asking thread */
inline ON_LOCK_REQ() {
    assert(me == lkmgr[m_x]);
    if
    :: !lk_held[m_x] -> COV LOCK_GRANT_TO(m_x, m_src | (m_y << 2))
    :: else ->
        COV
        assert(lk_qn[m_x] < LQ);
        lk_q[m_x * LQ + lk_qn[m_x]] = m_src | (m_y << 2);
        lk_qn[m_x]++
    fi
}

/* LOCK_REL at the lock's manager (on_lock_rel): x = lock, y = thread, d = the release's date, kept
 * as the lock's last (a record freed when nobody waits keeps it too: forgotten_last); the next in
 * the queue gets the lock. */
inline ON_LOCK_REL() {
    assert(me == lkmgr[m_x]);
    lock_out_of_turn = (!lk_held[m_x] || lk_holder[m_x] != (m_src | (m_y << 2)));   /* "... does not hold it" */
    assert(!lock_out_of_turn);
    lk_held[m_x] = 0;
    lk_holder[m_x] = 0;
    if
    :: m_d > lk_last[m_x] -> lk_last[m_x] = m_d
    :: else -> skip
    fi;
    if
    :: lk_qn[m_x] > 0 ->
        COV
        c = lk_q[m_x * LQ];
        i = 0;
        do
        :: i < LQ - 1 -> lk_q[m_x * LQ + i] = lk_q[m_x * LQ + i + 1]; i++
        :: else -> break
        od;
        lk_q[m_x * LQ + LQ - 1] = 0;
        i = 0;
        lk_qn[m_x]--;
        LOCK_GRANT_TO(m_x, c);
        c = 0
    :: else -> COV skip
    fi
}

/* LOCK_GRANT (on_lock_grant, grant_apply): the acquire of thread y at the date of the lock's last
 * release; MomeLock returns when it completes (OP_PUT). */
inline ON_LOCK_GRANT() {
    th = m_y;
    lock_out_of_turn = (ast[th] != S_LOCK || m_x != lkcur[th]);     /* "grant ... nobody asked for" */
    assert(!lock_out_of_turn);
    lkheld = lkheld | BIT(th);
#ifndef MUT_LOCK_NO_DATE
    adate[th] = m_d;
    /* Two locks: a copy whose notices are all of the other lock's releases may be left, those
     * noted by the grant or while its acquire waits for this node's release (DUE: the tags are
     * checked where the notices are applied) */
    askip[th] = (lkpick -> 3 : 0);
#else
    adate[th] = 0;                                          /* MUTANT: acquire at date 0 */
#endif
    ACQUIRE()
}

/* ------------------------------------------------------------------------------------------ */
/* Dispatch one message (mome_msg_deliver), then start a request the handler let through. */

/* The end of every handler: start a request it let through, check, forget the message. */
inline HANDLED() {
    /* A DROP leaves the entry free (but for an UNSHARE), and so does a declined write asked
     * ahead: run_queue goes on to the next. */
    do
    :: e_start ->
        e_start = 0;
        START();
        if
        :: HAS(rq_f, Q_DROP) || e_decl -> e_decl = 0; RUN_QUEUE() /* sets e_start if one waits */
        :: else -> skip
        fi
    :: else -> break
    od
}

/* The rest of a step, in d_steps of their own (a d_step has a size limit), in the order of the
 * code: finish_release where a handler completed a release (an acknowledgement, rel_merged in an
 * install: before txn_try_complete, as there), then txn_try_complete, then the checks. Within the
 * step's atomic sequence; what they need is in the node's state (fin_due, tc_due, m_*). */
#define STEP_END \
    d_step { \
        p = m_pg; \
        if \
        :: fin_due -> fin_due = 0; FINISH_RELEASE() \
        :: else -> skip \
        fi; \
        p = 0 \
    }; \
    d_step { \
        p = m_pg; \
        if \
        :: tc_due -> tc_due = 0; TRY_COMPLETE() \
        :: else -> skip \
        fi; \
        INVARIANTS(); \
        m_t = 0; m_src = 0; m_pg = 0; m_nd = 0; m_x = 0; m_y = 0; m_v = 0; m_d = 0 \
    }

/* Deliver the message taken (mome_msg_deliver): a d_step per type (a d_step has a size limit). */
#define ON(cond, handler) d_step { (cond) -> p = m_pg; e_start = 0; \
    printf("MSC: %e %d->%d page %d node=%d x=%d y=%d v=%d d=%d\n", m_t, m_src, me, m_pg, \
           m_nd, m_x, m_y, m_v, m_d); \
    handler(); HANDLED() }; STEP_END

/* ------------------------------------------------------------------------------------------ */
/* The application thread of node n: its next access (a fault when the mapping does not allow
 * it: mome_req_fault), release or barrier. */

inline FAULT_WAIT(w) {
    ast[th] = S_FAULT;
    if
    :: HAS(pf[p], F_BUSY) ->
        COV
        assert(((twait[p] >> (2 * th)) & 3) == 0);
        twait[p] = twait[p] | (w << (2 * th))
    :: else ->
        rq_w = (w == 2); rq_h = (w << (2 * th)); rq_op = 0;
        REQUEST();
        /* read_ahead: the next page of the view, if not held nor being fetched */
        if
        :: ra_on && w == 1 && p + 1 < P && acc[G + 1] == A_NONE && !HAS(pf[p + 1], F_BUSY) ->
            COV
            p++;
            rq_w = 0; rq_h = 0; rq_op = 0; rq_ah = 1;
            REQUEST();
            p--
        /* a write asks to write the next page ahead, if it has the same model (the code asks
         * only in a run, the page before written here: here any write, which covers more); a
         * RELEASE one where rwa_on (the search grows fast with it) */
        :: wa_on && w == 2 && p + 1 < P && acc[G + 1] == A_NONE && !HAS(pf[p + 1], F_BUSY) &&
           MODEL(me, p + 1) == MODEL(me, p) && (MODEL(me, p) == STRONG || rwa_on) ->
            COV
            p++;
            rq_w = 1; rq_h = 0; rq_op = 0; rq_ah = 1;
            REQUEST();
            p--
        :: else -> skip
        fi
    fi
}

/* write_ahead: after opening page p, open the next one if this node changed it in its last
 * release (tracked, clean, writable). */
inline WRITE_AHEAD() {
    if
    :: wa_on && HAS(xf[p], X_WROTE) && p + 1 < P ->
        p++;
        if
        :: (pf[p] & (F_BUSY | F_DIRTY | F_TRACK)) == F_TRACK && HAS(xf[p], X_WROTE) &&
           acc[G] == A_WRITE ->
            COV
            START_WRITING(1);
            pf[p] = pf[p] | F_USED | F_MAPPED
        :: else -> skip
        fi;
        p--
    :: else -> skip
    fi
}

inline APP(t) {
    th = t;
    op = script[(me + N * th) * SLEN + apc[th]];
    p = OP_PAGE(op);
    printf("MSC: node %d thread %d app op %d page %d (acc %d flags %d)\n", me, th, op >> 4, p,
           acc[G], pf[p]);
    if
    :: (op >> 4) == K_READ || (op >> 4) == K_LD ->
        if
        :: HAS(pf[p], F_MAPPED) && acc[G] != A_NONE -> DO_READ()
        :: else ->
            pf[p] = pf[p] | F_USED;
            if
            :: !HAS(pf[p], F_BUSY) && acc[G] != A_NONE -> pf[p] = pf[p] | F_MAPPED; DO_READ()
            :: else -> FAULT_WAIT(1)
            fi
        fi
    :: (op >> 4) == K_WRITE || (op >> 4) == K_ST || (op >> 4) == K_BACK ->
        if
        :: HAS(pf[p], F_MAPPED) && acc[G] == A_WRITE && !TRACKED_CLEAN && !IN(xmg, p) ->
            DO_WRITE()      /* (xmg: a refresh keeping writes has it write-protected) */
        :: else ->
            pf[p] = pf[p] | F_USED;
            if
            :: !HAS(pf[p], F_BUSY) && acc[G] == A_WRITE ->
                if
                :: TRACKED_CLEAN ->
                    START_WRITING(0);
                    WRITE_AHEAD()
                :: else -> skip
                fi;
                pf[p] = pf[p] | F_MAPPED;
                DO_WRITE()
            :: else -> FAULT_WAIT(2)
            fi
        fi
    :: (op >> 4) == K_BAR ->
        assert(!bcmd && th == 0);
        bcmd = 1;
        ast[th] = S_BAR;
        REL_RELEASE_BARRIER()
    :: (op >> 4) == K_REL ->
        ast[th] = S_REL;
        REL_RELEASE(CBT(CB_APP, th))
    :: (op >> 4) == K_JOIN -> apc[th]++        /* thread 1 is done (APP_READY) */
    :: (op >> 4) == K_LOCK ->
        /* mome_sync_cmd_lock: LOCK_REQ to the lock's manager; the thread waits for the grant */
        ast[th] = S_LOCK;
        lkcur[th] = op & 15;
        SEND(lkmgr[lkcur[th]], LOCK_REQ, 0, lkcur[th], th, 0, 0)   /* x = lock, y = thread */
    :: (op >> 4) == K_UNLOCK ->
        /* mome_sync_cmd_unlock: a release of this node's writes, LOCK_REL once it completes */
        ast[th] = S_REL;
#ifndef MUT_UNLOCK_EARLY
        REL_RELEASE(CBT(CB_UNLOCK, th))
#else
        p = 0;
        SEND(lkmgr[lkcur[th]], LOCK_REL, 0, lkcur[th], th, 0, RELDATE);  /* MUTANT: before it ends */
        CLR(lkheld, BIT(th));
        lkcur[th] = 0;
        REL_RELEASE(CBT(CB_APP, th))
#endif
    fi
}

#define T_OPAT(t) script[(me + N * (t)) * SLEN + apc[t]]
#define APP_READY(t) (ast[t] == S_RUN && T_OPAT(t) != END && \
                      (T_OPAT(t) != JOIN || (ast[1] == S_RUN && T_OPAT(1) == END && \
                                             ast[2] == S_RUN && T_OPAT(2) == END)))

/* ------------------------------------------------------------------------------------------ */
/* Invariants after every step. */

/* Mixed contract (SPEC 3): a node using STRONG on a page has no other writer while its copy is
 * valid; so in particular two STRONG writers never hold a page at once. */
inline INVARIANTS() {
    i = 0;
    do
    :: i < N * P ->
        j = 0;
        do
        :: j < N ->
            if
            :: j != i / P && acc[i] == A_WRITE && acc[j * P + i % P] != A_NONE ->
                writer_beside_strong_copy = (MODEL(j, i % P) == STRONG);
                assert(!writer_beside_strong_copy)
            :: else -> skip
            fi;
            j++
        :: else -> break
        od;
        i++
    :: else -> break
    od;
    i = 0; j = 0;   /* (a d_step must not end with a loop: spin jumps out of it) */
    /* The application finished its script (the end is near: the final process watches). */
    if
    :: ast[0] == S_RUN && T_OPAT(0) == END && ast[1] == S_RUN && T_OPAT(1) == END &&
       ast[2] == S_RUN && T_OPAT(2) == END ->
        adone = adone | BIT(me)
    :: else -> skip
    fi
}

/* At the end: no transaction open, no entry busy, no release or barrier under way. */
inline NODE_FINAL_CHECK() {
    p = 0;
    do
    :: p < P ->
        assert(tf[p] == 0 && !HAS(pf[p], F_BUSY));
        assert(dst[G] != E_LIVE || (dbusy[p] == NIL && dfl[p] == 0 && dqn[p] == 0 &&
                                    !HAS(dbits[p], B_MOVING)));
        p++
    :: else -> break
    od;
    assert(!relrun && relnext == 0 && acqpend[0] == 0 && acqpend[1] == 0 && acqpend[2] == 0 &&
           !bcmd && tdrop == 0 &&
           !lk_held[0] && !lk_held[1] && lk_qn[0] == 0 && lk_qn[1] == 0 &&
           !lk_held[NL - 1] && lk_qn[NL - 1] == 0 && tmg == 0 && xmg == 0 &&
           xlate == 0 && thld[0] == 0 && thld[1] == 0);
    p = 0
}

/* ---- a node: its progress thread and application thread ---- */

/* The state of node `me`: everything no other node reads. */
#define NODE_LOCALS \
    byte pf[P]; byte ver[P]; byte hint[P]; \
    byte xf[P]; byte twin[P]; byte spec[P]; byte kidle[P]; byte xown[P]; byte xrel[P]; \
    byte xfmgr[P]; \
    byte stdate[P]; byte stver[P]; byte stlk[P]; byte askip[NT]; byte reltag; \
    byte tf[P]; byte trights[P]; byte tneed[P]; byte tgot[P]; byte tver[P]; byte tmgr[P]; \
    byte town[P]; byte twait[P]; byte tdrop; byte top[P]; byte thld[P]; byte tmg; \
    byte xmg; byte xlate; \
    byte dfwd[P] = NIL; byte dbusy[P] = NIL; byte dfl[P]; byte dbits[P]; byte dsaved[P]; \
    byte dq[P * QCAP]; byte dqn[P]; byte dcs[P]; byte dsing[P]; byte dwr[P]; \
    byte hnv[P * HSLOT]; byte hno[P * HSLOT]; byte hnd[P * HSLOT]; byte hny[P * HSLOT]; \
    byte hnl[P * HSLOT]; \
    byte ntleft[NSLOT]; byte ntorig[NSLOT]; byte ntpage[NSLOT]; \
    byte apc[NT]; byte ast[NT]; byte relrun; byte relpd; short relcb; short relnext; byte relbar; \
    byte acqpend[NT]; byte adate[NT]; \
    byte bepoch; bool bcmd; \
    byte lval[NT]; byte lkcur[NT]; byte lkheld; \
    bool lk_held[NL]; byte lk_holder[NL]; byte lk_q[NL * LQ]; byte lk_qn[NL]; byte lk_last[NL]; \
    bool fin_due; bool tc_due; \
    mtype m_t; byte m_src, m_pg, m_nd, m_x, m_y, m_v, m_d

#define DELIVER(k) :: d_step { len(inbox[me]) > k -> TAKE(k) }

proctype node(byte me)
{
    NODE_LOCALS;

    /* end: a node waits for messages (the final process tells a deadlock from the end). */
end_node:
    do
    :: atomic {
        /* Any message in flight (its intermediate state is not stored: atomic). */
        len(inbox[me]) > 0 ->
        if
        DELIVER(0) DELIVER(1) DELIVER(2) DELIVER(3) DELIVER(4) DELIVER(5) DELIVER(6) DELIVER(7)
        fi;
        /* A lock grant's choice (two locks: see TAGBIT) */
        if
        :: m_t == LOCK_GRANT && (LOCKS > 1 || scen == 7) ->
            if
            :: lkpick = 0
            :: lkpick = 1
            fi
        :: else -> lkpick = 0
        fi;
        if
        :: ON(m_t == READ_REQ || m_t == WRITE_REQ || m_t == DROP, ON_REQUEST)
        :: ON(m_t == UNSHARE_ACK, ON_UNSHARE_ACK)
        :: ON(m_t == UNSHARE, ON_UNSHARE)
        :: ON(m_t == DROP_ACK, ON_DROP_ACK)
        :: ON(m_t == DONE, ON_DONE)
        :: ON(m_t == FLUSH_ACK, ON_FLUSH_ACK)
        :: ON(m_t == NOTICE, ON_NOTICE)
        :: ON(m_t == STALE_ACK, ON_STALE_ACK)
        :: ON(m_t == DIR_MOVE, ON_MOVE)
        :: ON(m_t == DIR_MOVE_ACK, ON_MOVE_ACK)
        :: ON(m_t == FWD_READ, ON_FWD_READ)
        :: ON(m_t == FWD_WRITE, ON_FWD_WRITE)
        :: ON(m_t == FWD_SNAP, ON_FWD_SNAP)
        :: ON(m_t == INV, ON_INV)
        :: ON(m_t == FLUSH, ON_FLUSH)
        :: ON(m_t == STALE, ON_STALE)
        :: ON(m_t == GRANT, ON_GRANT)
        :: ON(m_t == DATA, ON_DATA)
        :: ON(m_t == INV_ACK, ON_INV_ACK)
        :: ON(m_t == DIFF, ON_DIFF)
        :: ON(m_t == NOTICE_ACK, ON_NOTICE_ACK)
        :: ON(m_t == BAR_ENTER, ON_BAR_ENTER)
        :: ON(m_t == BAR_EXIT, ON_BAR_EXIT)
        :: ON(m_t == LOCK_REQ, ON_LOCK_REQ)
        :: ON(m_t == LOCK_REL, ON_LOCK_REL)
        :: ON(m_t == LOCK_GRANT, ON_LOCK_GRANT)
        fi
    }
    :: atomic { d_step { APP_READY(0) -> APP(0) }; STEP_END }
    :: atomic { d_step { APP_READY(1) -> APP(1) }; STEP_END }
    :: atomic { d_step { APP_READY(2) -> APP(2) }; STEP_END }
    :: finished -> break
    od;
    skip;   /* (a break must not jump into a d_step) */
    d_step { NODE_FINAL_CHECK() }
}

/* Waits for the end: every script done, nothing in flight. Not at an end label: if the job
 * stops short of that (a lost message, a request never served), spin reports an invalid end
 * state here. */
proctype final()
{
    adone == (BIT(0) | BIT(1) | BIT(2)) && len(inbox[0]) == 0 && len(inbox[1]) == 0 &&
    len(inbox[2]) == 0;
    /* Scenarios 6 to 8: every section released, nothing in flight: the master holds every
     * increment. */
    d_step {
        if
        :: scen >= 6 ->
            r = NIL;
            i = 0;
            do
            :: i < N ->
                if
                :: dst[i * P] == E_LIVE && r == NIL -> r = downer[i * P]
                :: else -> skip
                fi;
                i++
            :: else -> break
            od;
            lock_lost_increment = (r == NIL || dat[r * P] != truth[0] ||
                                   CTR(truth[0], 0) + CTR(truth[0], 1) + CTR(truth[0], 2) !=
                                   ltotal);
            assert(!lock_lost_increment);
            i = 0;
            r = 0
        :: else -> skip
        fi;
        finished = 1
    }
}

init
{
#ifdef SCEN
    scen = SCEN;
#else
    if
    :: scen = 0
    :: scen = 1
    :: scen = 2
    :: scen = 3
    :: scen = 4
    :: scen = 5
    :: scen = 6
    :: scen = 8     /* (scenario 7 only with -DSCEN=7: README) */
    fi;
#endif
    /* Scenarios 6 to 8: the page's manager and the lock's (each node, or as -DPMGR=k, -DLMGR=k
     * say) */
    if
    :: scen >= 6 ->
#ifdef PMGR
        pick_pmgr = PMGR;
#else
        if
        :: pick_pmgr = 0
        :: pick_pmgr = 1
        :: pick_pmgr = 2
        fi;
#endif
#ifdef LMGR
        pick_lmgr = LMGR
#else
        if
        :: pick_lmgr = 0
        :: pick_lmgr = 1
        :: pick_lmgr = 2
        fi
#endif
    :: else -> skip
    fi;
    d_step {
        COV_START
        SET_SCENARIO();
        i = 0;
        do
        :: i < N * P ->
            downer[i] = NIL;
            dst[i] = (DEFMGR(i % P) == i / P -> E_LIVE : E_NONE);
            i++
        :: else -> break
        od;
        i = 0
    };
    atomic { run node(0); run node(1); run node(2); run final() }
}
