! jacobi.f - 2-D Jacobi relaxation on a COMMON block shared through
! Mome, the columns of the grid split between the nodes.
!
!   mome-run -n 2 ./jacobi [n] [iterations] [strong|weak|release]
!
! Defaults: n = 1024, 100 iterations, weak. The grid's first row is
! held at 1, the rest of its border at 0; two grids, old and new,
! alternate. weak: the grids are MOME_WEAK and after each barrier a
! node refreshes only the columns beside its own, with MomeSyncMem(...,
! MomeLastBarrierDate()). strong: MOME_STRONG, pages move when touched.
! release: MOME_RELEASE, the barriers do everything (the owner of the
! columns beside a node's pushes them at each barrier).
! Node 0 prints the sum of the final grid, equal bit for bit to that of
! jacobi_serial.
      program jacobi
      implicit none
      include 'mome.fh'
! The grids live in COMMON /grids/, placed on Mome-page boundaries at
! link time (momef77 -common grids, or its C definition).
      integer nmax
      parameter (nmax = 1024)
      double precision g(nmax*nmax, 2)
      common /grids/ g
      integer n, niter, me, nodes, iseg, j0, j1, iold, inew, it, t
      integer*8 nbytes, zero8, t0, t1, rate, bits
      double precision s
      integer model
      character*8 mname

      call MomeInit()
      me = MomeNode()
      nodes = MomeNodes()
      call args(me, nmax, n, niter, model, mname)

! One segment holds both grids; the view covers the whole block. The
! INTEGER*8 calls let nmax grow past what a default INTEGER counts.
      nbytes = 8 * nmax
      nbytes = nbytes * nmax * 2
      zero8 = 0
      iseg = MomeSegOpen8('jacobi-grids', nbytes, MOME_CREATE)
      call MomeMMap8(g, nbytes, MOME_WRITE, MOME_FIXED, iseg, zero8)
      call MomeConsistency8(g, nbytes, model)

      call split(n, me, nodes, MomePageSize(), j0, j1)
      call border(g(1, 1), n, j0, j1)
      call border(g(1, 2), n, j0, j1)
      call MomeBarrier()
      if (model .eq. MOME_WEAK) then
         call halo(g(1, 1), n, j0, j1)
         call halo(g(1, 2), n, j0, j1)
      end if

      iold = 1
      inew = 2
      call system_clock(t0, rate)
      do it = 1, niter
         call sweep(g(1, iold), g(1, inew), n, max(j0, 2),
     &              min(j1, n - 1))
         call MomeBarrier()
         if (model .eq. MOME_WEAK) call halo(g(1, inew), n, j0, j1)
         t = iold
         iold = inew
         inew = t
      end do
      call system_clock(t1)

      if (me .eq. 0) then
         if (model .eq. MOME_WEAK) then
            nbytes = 8 * n
            nbytes = nbytes * n
            call MomeSyncMem8(g(1, iold), nbytes, MomeLastBarrierDate())
         end if
         call total(g(1, iold), n, s)
         bits = transfer(s, bits)
         write (*, 100) n, niter, nodes, trim(mname),
     &                  dble(t1 - t0) / rate
         write (*, 200) bits, s
      end if
      call MomeFinalize()
 100  format ('jacobi: n ', i0, ', iterations ', i0, ', nodes ', i0,
     &        ', ', a, ': ', f7.3, ' s')
 200  format ('checksum ', z16.16, 1x, es23.16e3)
      end

! Read the command line: [n] [iterations] [strong|weak|release].
      subroutine args(me, nmax, n, niter, model, mname)
      implicit none
      include 'mome.fh'
      integer me, nmax, n, niter, ios, model
      character*8 mname
      character*32 arg
      integer iargc

      model = MOME_WEAK
      mname = 'weak'
      call sizes(nmax, n, niter, ios)
      if (ios .eq. 0 .and. iargc() .ge. 3) then
         call getarg(3, arg)
         if (arg .eq. 'strong') then
            model = MOME_STRONG
            mname = 'strong'
         else if (arg .eq. 'release') then
            model = MOME_RELEASE
            mname = 'release'
         else if (arg .ne. 'weak') then
            ios = 1
         end if
      end if
      if (ios .ne. 0 .or. iargc() .gt. 3) then
         if (me .eq. 0) write (0, '(a, i0, a)')
     &      'usage: jacobi [n (3..', nmax,
     &      ')] [iterations] [strong|weak|release]'
         stop 2
      end if
      end

! This node's columns j0..j1: whole pages of columns where the node
! count allows it, so that no page holds two nodes' columns.
      subroutine split(n, me, nodes, ips, j0, j1)
      implicit none
      integer n, me, nodes, ips, j0, j1, ia, ib, ir, q, nunits

      ia = 8 * n
      ib = ips
 10   if (ib .ne. 0) then
         ir = mod(ia, ib)
         ia = ib
         ib = ir
         goto 10
      end if
      q = ips / ia
      if (q * nodes .gt. n) q = 1
      nunits = (n + q - 1) / q
      j0 = (me * nunits) / nodes * q + 1
      j1 = min(n, ((me + 1) * nunits) / nodes * q)
      end

! Bring in the columns beside this node's, written by its neighbours
! before the last barrier (MOME_WEAK pages change only on request).
      subroutine halo(a, n, j0, j1)
      implicit none
      include 'mome.fh'
      integer n, j0, j1
      double precision a(n, n)
      if (j0 .gt. j1) return
      if (j0 .gt. 1) then
         call MomeSyncMem(a(1, j0 - 1), 8 * n, MomeLastBarrierDate())
      end if
      if (j1 .lt. n) then
         call MomeSyncMem(a(1, j1 + 1), 8 * n, MomeLastBarrierDate())
      end if
      end
