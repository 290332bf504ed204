//! Bounded memory: a global allocator that counts live bytes and, while an input runs, stops
//! the process at the first allocation that would take it over the input's budget, after
//! saving the input (see [`crate::watch`]).
//!
//! The check must happen at the allocation itself: an input that makes a parser ask for 40 GiB
//! at once would otherwise abort the process (or get it killed) before anything could say which
//! input it was. Programs opt in with `#[global_allocator] static A: Counting = Counting;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Live bytes allowed while an input runs (`usize::MAX`: no input is running).
static CEILING: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The system allocator, counted and bounded.
pub struct Counting;

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Relaxed) + by;
    if live > CEILING.load(Relaxed) {
        CEILING.store(usize::MAX, Relaxed);
        crate::watch::over_budget();
    }
}

// SAFETY: every method forwards to `System` with the same arguments; the counting around it
// neither allocates nor touches the memory handed out.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: the caller's contract for `alloc` is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        // SAFETY: as for `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grew(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: as for `dealloc`, and the caller's contract for `realloc` is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Whether this program counts allocations (declared [`Counting`] its global allocator).
pub fn installed() -> bool {
    let before = LIVE.load(Relaxed);
    let probe = std::hint::black_box(vec![0u8; 4096]);
    let counted = LIVE.load(Relaxed) >= before + probe.len();
    drop(probe);
    counted
}

/// Allow `budget` bytes more than are live now, until [`disarm`].
pub fn arm(budget: usize) {
    CEILING.store(LIVE.load(Relaxed).saturating_add(budget), Relaxed);
}

pub fn disarm() {
    CEILING.store(usize::MAX, Relaxed);
}
