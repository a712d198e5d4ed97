import CLinux

/// The C heap, as a long-running process must look after it.
public enum Heap {
    /// Hands the heap's free pages back to the kernel. glibc keeps freed
    /// memory for reuse, so a process that once held a large batch (a
    /// catch-up, a burst of requests) would otherwise stay at that size.
    public static func handBackFreePages() {
        malloc_trim(0)
    }
}
