! spec_fragment.f - the Fortran fragment of SPEC.md section 4, line for
! line and with its implicit typing, inside a program that then uses
! it: every node fills its columns of tab, and after a barrier reads
! the first column of the next node through MomeSyncMem.
      program spec
      integer n, m
      parameter (n = 512, m = 64)
      include 'mome.fh'
      double precision tab(n,m)
      common /arrays/ tab
      j = m
      call MomeInit()
      iseg = MomeSegOpen('arrays', 8*n*m, MOME_CREATE)
      call MomeMMap(tab(1,1), 8*n*m, MOME_WRITE, MOME_FIXED, iseg, 0)
      call MomeConsistency(tab(1,1), 8*n*m, MOME_WEAK)
      call MomeBarrier()
      call MomeSyncMem(tab(1,j), 8*n, MomeLastBarrierDate())

! Node k owns columns j0(k)..j0(k+1)-1, a page each.
      me = MomeNode()
      nodes = MomeNodes()
      if (tab(n,m) .ne. 0d0) stop 'the new segment is not zero'
! Every node has looked before any writes: under WEAK a copy fetched
! after the barrier may already show a faster node's new values.
      call MomeBarrier()
      do j = me * m / nodes + 1, (me + 1) * m / nodes
         do i = 1, n
            tab(i,j) = j * 10000d0 + i + 0.5d0
         end do
      end do
      call MomeBarrier()
      j = mod(me + 1, nodes) * m / nodes + 1
      call MomeSyncMem(tab(1,j), 8*n, MomeLastBarrierDate())
      nbad = 0
      do i = 1, n
         if (tab(i,j) .ne. j * 10000d0 + i + 0.5d0) nbad = nbad + 1
      end do
      if (nbad .ne. 0) then
         write (*, *) 'spec_fragment: node', me, ': column', j, ':',
     &      nbad, ' wrong values'
         stop 1
      end if
      write (*, '(a, i0, a, i0)') 'spec_fragment: node ', me,
     &   ' read column ', j
      call MomeBarrier()
      call MomeFinalize()
      end
