! unaligned.f - maps a COMMON block that was not placed on page
! boundaries (the program is linked without momef77 -common): MomeMMap
! must stop the program with a message naming the way to place it.
      program unalgn
      implicit none
      include 'mome.fh'
      double precision tab(1024)
      common /block/ tab
      integer iseg, ips

      call MomeInit()
      ips = MomePageSize()
! The test needs an unaligned block; the linker put it where it liked.
      if (mod(loc(tab), int(ips, kind(loc(tab)))) .eq. 0) then
         write (*, *) 'unaligned: COMMON /block/ is page aligned',
     &      ' by chance; this test needs a program where it is not'
         stop 3
      end if
      iseg = MomeSegOpen('unaligned', 8 * 1024, MOME_CREATE)
      call MomeMMap(tab, 8 * 1024, MOME_WRITE, MOME_FIXED, iseg, 0)
      write (*, *) 'unaligned: MomeMMap accepted an unaligned block'
      call MomeFinalize()
      end
