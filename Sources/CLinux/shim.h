// Linux interfaces Glibc's Swift module does not export.
#include <sys/timerfd.h>
#include <malloc.h>
