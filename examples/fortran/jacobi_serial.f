! jacobi_serial.f - the reference for jacobi.f: the same grid, the
! same border and the same arithmetic (jacobi_kernel.f) on one
! process, without Mome.
!
!   ./jacobi_serial [n] [iterations]
!
! It prints the sum of the final grid as jacobi does (the REAL*8 bits
! in hex, then the value), so that the two can be compared bit for bit.
      program serial
      implicit none
      integer nmax
      parameter (nmax = 1024)
      double precision g(nmax*nmax, 2)
      common /grids/ g
      integer n, niter, iold, inew, it, t, ios
      integer*8 t0, t1, rate, bits
      double precision s
      integer iargc

      call sizes(nmax, n, niter, ios)
      if (ios .ne. 0 .or. iargc() .gt. 2) then
         write (0, '(a, i0, a)') 'usage: jacobi_serial [n (3..',
     &      nmax, ')] [iterations]'
         stop 2
      end if

      call border(g(1, 1), n, 1, n)
      call border(g(1, 2), n, 1, n)
      iold = 1
      inew = 2
      call system_clock(t0, rate)
      do it = 1, niter
         call sweep(g(1, iold), g(1, inew), n, 2, n - 1)
         t = iold
         iold = inew
         inew = t
      end do
      call system_clock(t1)

      call total(g(1, iold), n, s)
      bits = transfer(s, bits)
      write (*, 100) n, niter, dble(t1 - t0) / rate
      write (*, 200) bits, s
 100  format ('jacobi_serial: n ', i0, ', iterations ', i0, ': ', f7.3,
     &        ' s')
 200  format ('checksum ', z16.16, 1x, es23.16e3)
      end
