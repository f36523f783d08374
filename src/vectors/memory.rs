//! Where the rows, codes and links sit in memory: on huge pages, and fetched ahead of use.

/// An empty vector with room for `len` items, whose memory the kernel is asked to back with
/// 2 MiB pages before it is touched: a graph walk reads rows and link lists all over tens of
/// megabytes, and with 4 KiB pages most reads also missed the TLB.
pub(super) fn huge_pages<T>(len: usize) -> Vec<T> {
    let items: Vec<T> = Vec::with_capacity(len);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let (addr, bytes) = (items.as_ptr() as usize, len * std::mem::size_of::<T>());
        let (start, end) = (addr.next_multiple_of(HUGE), (addr + bytes) / HUGE * HUGE);
        if end > start {
            // SAFETY: advice only, on whole pages inside the vector's own allocation; it
            // changes how the pages are backed, never their contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    items
}

/// Asks the CPU to fetch up to `lines` cache lines of `items` from `items[at]` on (inside
/// `items`), so that they arrive while other work goes on.
pub(super) fn prefetch<T>(items: &[T], at: usize, lines: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(from) = items.get(at..) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let start: *const u8 = from.as_ptr().cast();
        for offset in (0..std::mem::size_of_val(from)).step_by(64).take(lines) {
            // SAFETY: a prefetch is only a hint; `offset` stays inside `from`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(start.add(offset).cast()) };
        }
    }
}

/// Cache lines (64 bytes) of a row prefetched: the hardware prefetcher follows on from there.
pub(super) const PREFETCH_LINES: usize = 4;
