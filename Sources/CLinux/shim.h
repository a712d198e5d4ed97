// Linux interfaces Glibc's Swift module does not export.
#include <sys/timerfd.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/inotify.h>
#include <malloc.h>
#include <signal.h>
