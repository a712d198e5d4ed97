import CLinux

/// The C heap, as a long-running process must look after it.
public enum Heap {
    /// Hands the heap's free pages back to the kernel. glibc keeps freed
    /// memory for reuse, so a process that once held a large batch (a
    /// catch-up, a burst of requests) would otherwise stay at that size.
    public static func handBackFreePages() {
        malloc_trim(0)
    }

    /// Two malloc arenas, not glibc's eight per core: every arena keeps its
    /// own free pages resident after a busy spell.
    public static func limitArenas() {
        mallopt(M_ARENA_MAX, 2)
    }

    /// Fixes glibc's thresholds at their documented defaults (128 KiB), which
    /// turns off their growth. Otherwise each freed large buffer (a 400 KiB
    /// page) raises the mmap threshold to its size and the trim threshold to
    /// twice that, and from then on an arena keeps up to a megabyte of free
    /// memory at its top, which `malloc_trim` does not hand back for any
    /// arena but the first. Measured on the web view after fifty nurses'
    /// requests (`scripts/bench --only web`): 6.6-8.1 MiB of its own memory
    /// idle before, 5.5-5.6 MiB after (`docs/benchmarks.md`, "The idle web view").
    /// The daemon too: a catch-up's 4 MiB reads left up to 8 MiB free at an
    /// arena's top; idle after one, 41.6-42.0 MiB before, 38.7-39.1 after.
    public static func returnLargeBlocksPromptly() {
        mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        mallopt(M_TRIM_THRESHOLD, 128 * 1024)
    }
}
