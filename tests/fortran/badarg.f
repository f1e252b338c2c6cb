! badarg.f - a Fortran call with a bad argument stops the program with
! a message naming the call and the cause; what the program wrote
! before still reaches its output. The argument chooses the bad call:
!
!   mome-run -n 2 ./badarg segopen|negative|nofixed|nofixed8|unlock|
!                          checkpoint
      program badarg
      implicit none
      include 'mome.fh'
      integer iseg, isz
      integer*8 len8, off8
      double precision buf(512)
      character*32 name, what

      call MomeInit()
      what = 'segopen'
      if (iargc() .ge. 1) call getarg(1, what)
      name = 'no-such-segment'
      write (*, '(a, i0)') 'badarg: before the bad call on node ',
     &   MomeNode()
      if (what .eq. 'segopen') then
! A missing segment without MOME_CREATE; the name has trailing blanks.
         iseg = MomeSegOpen(name, 4096, 0)
      else if (what .eq. 'negative') then
! A size that went negative, as an overflowed default INTEGER does.
         isz = -4096
         iseg = MomeSegOpen('badarg', isz, MOME_CREATE)
      else if (what .eq. 'nofixed') then
         iseg = MomeSegOpen('badarg', 4096, MOME_CREATE)
         call MomeMMap(buf, 4096, MOME_WRITE, 0, iseg, 0)
      else if (what .eq. 'nofixed8') then
! The INTEGER*8 variant: its message names the C call once.
         iseg = MomeSegOpen('badarg', 4096, MOME_CREATE)
         len8 = 4096
         off8 = 0
         call MomeMMap8(buf, len8, MOME_WRITE, 0, iseg, off8)
      else if (what .eq. 'unlock') then
         call MomeUnlock(5)
      else if (what .eq. 'checkpoint') then
         iseg = MomeSegOpen('badarg', 4096, MOME_CREATE)
         call MomeCheckpoint(iseg)
      else
         write (0, *) 'badarg: unknown case ', what
         stop 2
      end if
      write (*, '(a, a)') 'badarg: the program went on after ', what
      call MomeFinalize()
      end
