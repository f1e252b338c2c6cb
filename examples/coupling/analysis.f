! analysis.f - the analysis side of the coupling example: a Fortran 77
! job, started separately while the simulation (sim.c) runs, attaches
! to the segment momed serves, reads the field of each step the
! simulation releases, prints its statistics, and detaches. If the
! simulation ends first, it detaches after the steps it could read and
! exits with status 3.
!
!   MOME_REPOSITORY=REPO mome-run -n 2 ./analysis [steps-to-read]
!
! The segment is mapped on COMMON /cpl/ (placed on Mome-page boundaries
! by momef77 -common cpl): the control page, 512 INTEGER*8 words
! (1: the step, 2: its release date, 3: the analysis' state, 5: 1 once
! the simulation has ended), then the field, MOME_WEAK here: it changes
! only when this job asks, with MomeSyncMem and the date the simulation
! published. Node 0 prints the statistics; every node checks the values
! of the pages it reads.
      program analysis
      implicit none
      include 'mome.fh'
      integer nx, ny
      parameter (nx = 64, ny = 64)
      integer*8 ctl(512)
      double precision field(nx * ny)
      common /cpl/ ctl, field
      integer me, iseg, nread, seen, i, bad, lo, hi
      integer*8 nbytes, fbytes, zero8, step, last, d, after, t, ended
      double precision smin, smax, smean, v
      character*16 arg
      integer iargc

      call MomeInit()
      me = MomeNode()
      nread = 5
      if (iargc() .ge. 1) then
         call getarg(1, arg)
         read (arg, *) nread
      end if
      if (MomePageSize() .ne. 4096) then
         write (0, *) 'analysis: needs Mome pages of 4096 bytes'
         stop 2
      end if

! Size 0: the segment as the simulation created it.
      nbytes = 4096 + 8 * nx * ny
      fbytes = 8 * nx * ny
      zero8 = 0
      iseg = MomeSegOpen8('coupling-field', zero8, MOME_PERSIST)
      call MomeMMap8(ctl, nbytes, MOME_WRITE, MOME_FIXED, iseg, zero8)
      call MomeConsistency8(field, fbytes, MOME_WEAK)
      if (me .eq. 0) then
         ctl(3) = 1
         write (*, '(a, i0)') 'analysis: attached at step ', ctl(1)
      end if

      last = -1
      seen = 0
      bad = 0
 10   if (seen .lt. nread) then
! The control page is STRONG: a call between two reads makes the
! compiler load the words again (and keeps them in this order: the end
! mark read first, a step released before it is seen below).
         ended = ctl(5)
         t = MomeClock()
         step = ctl(1)
         d = ctl(2)
         t = MomeClock()
         if (ctl(1) .ne. step) goto 10
! last is the newest step whose data this job has read, which may be
! later than the step published then: wait for a newer one, unless the
! simulation has ended.
         if (step .le. last .or. step .lt. 1) then
            if (ended .eq. 0) goto 10
            write (0, 200) me, step, seen, nread
            goto 20
         end if
         call MomeSyncMem8(field, fbytes, d)
         smin = 1d300
         smax = -1d300
         smean = 0
         do i = 1, nx * ny
            v = field(i) - (i - 1) / 1000d0
            smin = min(smin, v)
            smax = max(smax, v)
            smean = smean + field(i)
         end do
         smean = smean / (nx * ny)
         t = MomeClock()
         after = ctl(1)
! Every value is of the step published or a later one (a page this job
! does not hold yet is read as it is now).
         if (smin .lt. step - 0.5d0 .or. smax .gt. after + 1.5d0) then
            bad = bad + 1
            write (0, 300) me, step, after, smin, smax
         end if
! The label is the step of the values read, not the one published:
! the field may already hold a later step (or, page by page, two).
         lo = idnint(smin)
         hi = idnint(smax)
         if (me .eq. 0 .and. lo .eq. hi) write (*, 100) lo, smean,
     &      smin, smax
         if (me .eq. 0 .and. lo .ne. hi) write (*, 110) lo, hi, smean,
     &      smin, smax
         last = hi
         if (last .lt. step) last = step
         seen = seen + 1
         goto 10
      end if
 20   if (bad .ne. 0) then
         write (0, '(a, i0, a)') 'analysis: ', bad,
     &      ' steps read with values of another step'
         stop 1
      end if
      call MomeBarrier()
      if (me .eq. 0) then
         ctl(3) = 2
         write (*, '(a, i0, a)') 'analysis: detached after ', seen,
     &      ' steps'
      end if
      call MomeFinalize()
      if (seen .lt. nread) stop 3
 100  format ('analysis: step ', i0, ': mean ', f10.4, ', steps ',
     &        f8.1, ' to ', f8.1)
 110  format ('analysis: steps ', i0, ' to ', i0, ': mean ', f10.4,
     &        ', steps ', f8.1, ' to ', f8.1)
 200  format ('analysis: node ', i0, ': the simulation has ended ',
     &        '(last step ', i0, '): read ', i0, ' of ', i0, ' steps')
 300  format ('analysis: node ', i0, ': step ', i0, ' (', i0,
     &        ' after) read values of steps ', f8.1, ' to ', f8.1)
      end
