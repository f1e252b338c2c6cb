! constants.f - the PARAMETERs of mome.fh have the values of mome.h,
! and the MOME_ST_* indices follow MomeStatsT: constants_c.c, built
! against mome.h, compares what this program passes it.
      program consts
      implicit none
      include 'mome.fh'
      integer ic(9), ist(MOME_NSTATS), nbad, chkfh
      external chkfh

      ic(1) = MOME_CREATE
      ic(2) = MOME_EXCL
      ic(3) = MOME_PERSIST
      ic(4) = MOME_READ
      ic(5) = MOME_WRITE
      ic(6) = MOME_FIXED
      ic(7) = MOME_STRONG
      ic(8) = MOME_RELEASE
      ic(9) = MOME_WEAK
      ist(1) = MOME_ST_READ_FAULTS
      ist(2) = MOME_ST_WRITE_FAULTS
      ist(3) = MOME_ST_PAGES_FETCHED
      ist(4) = MOME_ST_PAGES_SENT
      ist(5) = MOME_ST_MSGS_SENT
      ist(6) = MOME_ST_MSGS_RECEIVED
      ist(7) = MOME_ST_BYTES_SENT
      ist(8) = MOME_ST_BYTES_RECEIVED
      ist(9) = MOME_ST_INVAL_SENT
      ist(10) = MOME_ST_INVAL_RECEIVED
      ist(11) = MOME_ST_TWINS
      ist(12) = MOME_ST_DIFFS
      ist(13) = MOME_ST_DIFF_BYTES
      ist(14) = MOME_ST_SYNCS
      ist(15) = MOME_ST_PAGE_OUTS
      ist(16) = MOME_ST_PAGE_INS
      ist(17) = MOME_ST_LOCK_ACQUIRES
      ist(18) = MOME_ST_LOCK_WAITS
      ist(19) = MOME_ST_LOCK_WAIT_NS
      ist(20) = MOME_ST_BARRIERS
      ist(21) = MOME_ST_BARRIER_WAIT_NS
      ist(22) = MOME_ST_FAULT_NS
      ist(23) = MOME_ST_DIR_MIGRATIONS
      ist(24) = MOME_ST_PAGES_PREFETCHED
      ist(25) = MOME_ST_PAGES_WRITTEN_AHEAD
      ist(26) = MOME_ST_PAGE_OUTS_NODE
      ist(27) = MOME_ST_PAGE_OUTS_DISK
      ist(28) = MOME_ST_EVICTIONS
      ist(29) = MOME_ST_ZERO_PAGES_SKIPPED
      ist(30) = MOME_ST_SWAP_BYTES_WRITTEN
      ist(31) = MOME_ST_EVICTIONS_WAITED
      ist(32) = MOME_ST_RESIDENT_PAGES
      ist(33) = MOME_ST_RESIDENT_PEAK
      ist(34) = MOME_ST_REPO_PAGES_READ
      ist(35) = MOME_ST_REPO_PAGES_WRITTEN
      nbad = chkfh(ic, 9, ist, MOME_NSTATS, MomePageSize())
      if (nbad .ne. 0) then
         write (*, '(a, i0, a)') 'constants: ', nbad,
     &      ' values of mome.fh differ from mome.h'
         stop 1
      end if
      write (*, '(a)') 'constants: mome.fh agrees with mome.h'
      end
