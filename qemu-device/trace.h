#include "trace/trace-hw_misc_dmalab.h"
