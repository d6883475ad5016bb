#include "mmkit.h"
int main(void) { return 0; }
