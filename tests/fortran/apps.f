! apps.f - the calls of the programs of one job, from Fortran 77:
! run as 'mome-run -n 2 ./apps : -n 1 ./apps' (apps.test), nodes 0
! and 1 are program 0 and node 2 is program 1. Each checks MomeApp,
! MomeAppNode and MomeAppNodes, then the programs make different
! numbers of MomeAppBarrier (4 and 1) and meet in MomeBarrier.
      program apps
      implicit none
      include 'mome.fh'
      integer me, nodes, iapp, inode, inodes, nrounds, nbad, i
      integer iwant, nwant, jwant

      call MomeInit()
      me = MomeNode()
      nodes = MomeNodes()
      iapp = MomeApp()
      inode = MomeAppNode()
      inodes = MomeAppNodes()
      nbad = 0
      if (nodes .ne. 3) call bad(nbad, 'MomeNodes')
      if (me .lt. 2) then
         iwant = 0
         nwant = 2
         jwant = me
         nrounds = 4
      else
         iwant = 1
         nwant = 1
         jwant = 0
         nrounds = 1
      end if
      if (iapp .ne. iwant) call bad(nbad, 'MomeApp')
      if (inodes .ne. nwant) call bad(nbad, 'MomeAppNodes')
      if (inode .ne. jwant) call bad(nbad, 'MomeAppNode')
      do i = 1, nrounds
         call MomeAppBarrier()
      end do
      call MomeBarrier()
      if (nbad .eq. 0) then
         write (*, '(a, i2, a, i2, a, i2, a, i2, a)') 'node', me,
     &        ': program', iapp, ', node', inode, ' of', inodes, ': ok'
      end if
      call MomeFinalize()
      end

      subroutine bad(nbad, what)
      integer nbad
      character*(*) what
      nbad = nbad + 1
      write (*, '(a, a)') 'wrong: ', what
      end
