! calls.f - every call of the Fortran interface, each once or more,
! with what it returns checked: node numbers, page size, dates that
! grow, segments closed, unlinked and created again, views unmapped
! and mapped again, the INTEGER*8 variants, and the counters of
! MomeStats.
      program calls
      implicit none
      include 'mome.fh'
      integer np
      parameter (np = 4)
      integer*8 blk(512 * np)
      common /cblk/ blk
      integer me, nodes, ips, iseg, jseg, nbad, i
      integer*8 d0, d1, d2, d3, len8, off8, st(MOME_NSTATS)

      call MomeInit()
      me = MomeNode()
      nodes = MomeNodes()
      ips = MomePageSize()
      nbad = 0
      if (me .lt. 0 .or. me .ge. nodes) call bad(nbad, 'MomeNode')
      if (ips .ne. 4096) call bad(nbad, 'MomePageSize')

! A segment of np pages, mapped whole, then unmapped and mapped again
! in two halves with the INTEGER*8 calls.
      iseg = MomeSegOpen('calls', np * ips, MOME_CREATE)
      call MomeMMap(blk, np * ips, MOME_WRITE, MOME_FIXED, iseg, 0)
      call MomeConsistency(blk, np * ips, MOME_STRONG)
      blk(1 + me) = 100 + me
      call MomeBarrier()
      call MomePoll()
      d0 = MomeLastBarrierDate()
      if (d0 .le. 0) call bad(nbad, 'MomeLastBarrierDate')
      do i = 0, nodes - 1
         if (blk(1 + i) .ne. 100 + i) call bad(nbad, 'STRONG values')
      end do
      call MomeMUnmap(blk, np * ips)
      len8 = np * ips / 2
      off8 = 0
      call MomeMMap8(blk, len8, MOME_WRITE, MOME_FIXED, iseg, off8)
      off8 = len8
      call MomeMMap8(blk(1 + len8 / 8), len8, MOME_READ, MOME_FIXED,
     &               iseg, off8)
      call MomeConsistency8(blk, len8, MOME_RELEASE)
      if (blk(1 + me) .ne. 100 + me) call bad(nbad, 'remapped view')

! Dates: the clock and releases only grow; a barrier's date is above
! every release made before it, and is the same on every node.
      d1 = MomeClock()
      blk(1 + nodes + me) = 200 + me
      d2 = MomeRelease()
      if (d2 .le. 0 .or. d2 .lt. d1) call bad(nbad, 'MomeRelease')
      call MomeLock(3)
      call MomeUnlock(3)
      call MomeBarrier()
      d3 = MomeLastBarrierDate()
      if (d3 .le. d2 .or. d3 .le. d0) call bad(nbad, 'barrier date')
      call MomeSyncMem(blk, 8 * 2 * nodes, d3)
      call MomeSyncMem8(blk, len8, d3)
      do i = 0, nodes - 1
         if (blk(1 + nodes + i) .ne. 200 + i) call bad(nbad, 'RELEASE')
      end do

! MomeStats: this node took part in 2 barriers and 1 lock so far, and
! 2 MomeSyncMem calls.
      call MomeStats(st)
      if (st(MOME_ST_BARRIERS) .ne. 2) call bad(nbad, 'barriers')
      if (st(MOME_ST_LOCK_ACQUIRES) .ne. 1) call bad(nbad, 'locks')
      if (st(MOME_ST_SYNCS) .ne. 2) call bad(nbad, 'syncs')
      if (st(MOME_ST_BARRIER_WAIT_NS) .le. 0) call bad(nbad, 'wait')

! Segments: close, unlink, then create the name again, exclusively.
      call MomeMUnmap8(blk, len8)
      call MomeMUnmap(blk(1 + len8 / 8), np * ips / 2)
      call MomeSegClose(iseg)
      call MomeBarrier()
      if (me .eq. 0) then
         call MomeSegUnlink('calls')
         jseg = MomeSegOpen8('calls', len8,
     &                       MOME_CREATE + MOME_EXCL)
         call MomeMMap(blk, np * ips / 2, MOME_WRITE, MOME_FIXED, jseg,
     &                 0)
         if (blk(1) .ne. 0) call bad(nbad, 'a new segment is not zero')
         call MomeMUnmap(blk, np * ips / 2)
         call MomeSegClose(jseg)
      end if

      if (nbad .ne. 0) then
         write (*, '(a, i0, a, i0, a)') 'calls: node ', me, ': ', nbad,
     &      ' wrong results'
         stop 1
      end if
      write (*, '(a, i0, a)') 'calls: node ', me, ': all calls right'
      call MomeFinalize()
      end

      subroutine bad(nbad, what)
      implicit none
      integer nbad
      character*(*) what
      nbad = nbad + 1
      write (*, '(a, a)') 'calls: wrong: ', what
      end
