! two_models.f - two COMMON blocks mapped from two segments with
! different models on every node: /sblk/ MOME_STRONG (a token passed
! round the nodes by spinning on it, a counter under a lock) and /rblk/
! MOME_RELEASE (every page written by all nodes at once, merged at the
! barrier). Every node checks every value it can see.
      program models
      implicit none
      include 'mome.fh'
      integer ns, nr, nrounds
      parameter (ns = 1024, nr = 2048, nrounds = 3)
! The token is read in a loop that calls MomePoll (doc/fortran.md
! section 7): after the call gfortran reads the block from memory
! again. VOLATILE on the token alone let -O2 keep islot(ns - 2), which
! every holder of the token adds to, in a register across the loop.
      integer itok, icnt, islot(ns - 2)
      double precision rel(nr)
      common /sblk/ itok, icnt, islot
      common /rblk/ rel
      integer me, nodes, iss, irs, i, k, r, bad
      character*20 sname

      call MomeInit()
      me = MomeNode()
      nodes = MomeNodes()
! Node 0 names the segment with a literal, the others with a blank-
! padded variable: the names match only if trailing blanks are dropped.
      sname = 'two-models-strong'
      if (me .eq. 0) then
         iss = MomeSegOpen('two-models-strong', 4 * ns, MOME_CREATE)
      else
         iss = MomeSegOpen(sname, 4 * ns, MOME_CREATE)
      end if
      irs = MomeSegOpen('two-models-release', 8 * nr, MOME_CREATE)
      call MomeMMap(itok, 4 * ns, MOME_WRITE, MOME_FIXED, iss, 0)
      call MomeMMap(rel, 8 * nr, MOME_WRITE, MOME_FIXED, irs, 0)
      call MomeConsistency(itok, 4 * ns, MOME_STRONG)
      call MomeConsistency(rel, 8 * nr, MOME_RELEASE)
      call MomeBarrier()
      bad = 0

! STRONG: each node waits for the token, then hands it on; no call but
! MomePoll is needed for the others to see it.
      do r = 0, nrounds - 1
         do while (itok .ne. r * nodes + me)
            call MomePoll()
         end do
         islot(1 + me) = islot(1 + me) + r + 1
         islot(ns - 2) = islot(ns - 2) + 1
         itok = itok + 1
      end do
      do k = 1, 100
         call MomeLock(7)
         icnt = icnt + 1
         call MomeUnlock(7)
      end do

! RELEASE: element i is written by node mod(i - 1, nodes), so all the
! nodes write every page at once; the barrier merges their writes.
      do i = me + 1, nr, nodes
         rel(i) = 1000d0 * me + i
      end do
      call MomeBarrier()

      if (itok .ne. nrounds * nodes) then
         write (*, *) 'node', me, ': token', itok, ', not',
     &      nrounds * nodes
         bad = bad + 1
      end if
      do k = 0, nodes - 1
         if (islot(1 + k) .ne. nrounds * (nrounds + 1) / 2) then
            write (*, *) 'node', me, ': slot of node', k, ' is',
     &         islot(1 + k)
            bad = bad + 1
         end if
      end do
      if (islot(ns - 2) .ne. nrounds * nodes) then
         write (*, *) 'node', me, ': shared count', islot(ns - 2),
     &      ', not', nrounds * nodes
         bad = bad + 1
      end if
      if (icnt .ne. 100 * nodes) then
         write (*, *) 'node', me, ': lock counter', icnt,
     &      ', not', 100 * nodes
         bad = bad + 1
      end if
      do i = 1, nr
         if (rel(i) .ne. 1000d0 * mod(i - 1, nodes) + i) then
            if (bad .lt. 10) write (*, *) 'node', me, ': rel(', i,
     &         ') =', rel(i)
            bad = bad + 1
         end if
      end do

! RELEASE under a lock: the unlock releases, the next lock acquires.
      call MomeBarrier()
      call MomeLock(8)
      rel(1) = rel(1) + 1d0
      call MomeUnlock(8)
      call MomeBarrier()
      if (rel(1) .ne. 1d0 + nodes) then
         write (*, *) 'node', me, ': rel(1) =', rel(1), ', not',
     &      1 + nodes
         bad = bad + 1
      end if

      if (bad .ne. 0) then
         write (*, *) 'two_models: node', me, ':', bad, ' wrong values'
         stop 1
      end if
      write (*, '(a, i0, a)') 'two_models: node ', me,
     &   ': STRONG and RELEASE blocks correct'
      call MomeFinalize()
      end
