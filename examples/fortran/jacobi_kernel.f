! jacobi_kernel.f - the arguments, the border, the Jacobi step and the
! checksum, linked by both jacobi.f (on Mome) and jacobi_serial.f (the
! serial reference), so that the two run the same floating-point
! operations.

! The grid size n (3..nmax, default nmax) and the iteration count
! (default 100) from the first two arguments; ios is not 0 if either
! is bad.
      subroutine sizes(nmax, n, niter, ios)
      implicit none
      integer nmax, n, niter, ios
      character*32 arg
      integer iargc

      n = nmax
      niter = 100
      ios = 0
      if (iargc() .ge. 1) then
         call getarg(1, arg)
         read (arg, *, iostat=ios) n
         if (n .lt. 3 .or. n .gt. nmax) ios = 1
      end if
      if (ios .eq. 0 .and. iargc() .ge. 2) then
         call getarg(2, arg)
         read (arg, *, iostat=ios) niter
         if (niter .lt. 0) ios = 1
      end if
      end

! One Jacobi step on the interior points of columns jlo..jhi.
      subroutine sweep(a, b, n, jlo, jhi)
      implicit none
      integer n, jlo, jhi, i, j
      double precision a(n, n), b(n, n)
      do j = jlo, jhi
         do i = 2, n - 1
            b(i, j) = 0.25d0 * ((a(i - 1, j) + a(i + 1, j))
     &                        + (a(i, j - 1) + a(i, j + 1)))
         end do
      end do
      end

! The sum of the grid, column by column.
      subroutine total(a, n, s)
      implicit none
      integer n, i, j
      double precision a(n, n), s
      s = 0d0
      do j = 1, n
         do i = 1, n
            s = s + a(i, j)
         end do
      end do
      end

! The fixed border of columns j0..j1: 1 on the first row, 0 elsewhere.
      subroutine border(a, n, j0, j1)
      implicit none
      integer n, j0, j1, i, j
      double precision a(n, n)
! Every point of these columns is written before the timing starts,
! zeros included: on Mome, a node's pages are its own from the first
! step.
      do j = j0, j1
         a(1, j) = 1d0
         do i = 2, n
            a(i, j) = 0d0
         end do
      end do
      end
