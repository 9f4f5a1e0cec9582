#include "../include/inl.h"

/* Same name as the static helper in init/main.c, another size. */
static __attribute__((noinline)) int helper(volatile int *p)
{
	int s = 0;
	for (int i = 0; i < *p; i++)
		s += twice(p, i);
	return s;
}

int mm_entry(volatile int *p)
{
	return helper(p) + 1;
}
