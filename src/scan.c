/* placeholder: being written */
#include "mmkit.h"
