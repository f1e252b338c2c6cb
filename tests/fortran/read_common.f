! read_common.f - Fortran READ straight into a mapped COMMON block
! whose pages another node holds: an unformatted READ of 512 KiB (the
! run-time library hands it to read(2), so the kernel writes the Mome
! pages) and a formatted READ. Every node then checks every value.
!
!   mome-run -n 2 ./read_common FILE      (FILE: a scratch file name)
      program readc
      implicit none
      include 'mome.fh'
      integer nx, nk
      parameter (nx = 65536, nk = 2048)
      double precision x(nx)
      integer k(nk)
      common /iob/ x, k
      double precision xl(nx)
      integer kl(nk)
      integer me, nodes, iseg, i, bad, ios
      character*256 path, fpath

      call MomeInit()
      me = MomeNode()
      nodes = MomeNodes()
      if (iargc() .ne. 1) then
         write (0, *) 'usage: read_common FILE'
         stop 2
      end if
      call getarg(1, path)
      fpath = trim(path) // '.txt'
      iseg = MomeSegOpen('read-common', 8 * nx + 4 * nk, MOME_CREATE)
      call MomeMMap(x, 8 * nx + 4 * nk, MOME_WRITE, MOME_FIXED, iseg, 0)

! The last node writes every page of the block: it holds them all,
! writable, when node 0 reads the files into the block.
      if (me .eq. nodes - 1) then
         do i = 1, nx
            x(i) = -1d0
         end do
         do i = 1, nk
            k(i) = -1
         end do
      end if
      if (me .eq. 0) then
         do i = 1, nx
            xl(i) = 0.5d0 * i + 1d0 / i
         end do
         do i = 1, nk
            kl(i) = 3 * i + 1
         end do
         open (10, file=path, form='unformatted', status='replace')
         write (10) xl
         close (10)
         open (11, file=fpath, form='formatted', status='replace')
         write (11, '(8i10)') kl
         close (11)
      end if
      call MomeBarrier()

      if (me .eq. 0) then
         open (10, file=path, form='unformatted', status='old')
         read (10, iostat=ios) x
         if (ios .ne. 0) then
            write (*, *) 'read_common: unformatted READ failed:', ios
            stop 1
         end if
         close (10, status='delete')
         open (11, file=fpath, form='formatted', status='old')
         read (11, '(8i10)', iostat=ios) k
         if (ios .ne. 0) then
            write (*, *) 'read_common: formatted READ failed:', ios
            stop 1
         end if
         close (11, status='delete')
      end if
      call MomeBarrier()

      bad = 0
      do i = 1, nx
         if (x(i) .ne. 0.5d0 * i + 1d0 / i) then
            if (bad .lt. 10) write (*, *) 'node', me, ': x(', i,
     &         ') =', x(i)
            bad = bad + 1
         end if
      end do
      do i = 1, nk
         if (k(i) .ne. 3 * i + 1) then
            if (bad .lt. 10) write (*, *) 'node', me, ': k(', i,
     &         ') =', k(i)
            bad = bad + 1
         end if
      end do
      if (bad .ne. 0) then
         write (*, *) 'read_common: node', me, ':', bad,
     &      ' wrong values'
         stop 1
      end if
      write (*, '(a, i0, a)') 'read_common: node ', me,
     &   ': the block holds what READ read'
      call MomeFinalize()
      end
