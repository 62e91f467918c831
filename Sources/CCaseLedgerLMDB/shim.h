#ifndef CCASELEDGER_LMDB_SHIM_H
#define CCASELEDGER_LMDB_SHIM_H
// LMDB from the system (Debian: liblmdb-dev). Nothing of LMDB's source is vendored here.
#include <lmdb.h>
#endif
