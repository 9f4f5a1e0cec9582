#include <stdio.h>
#include "../include/inl.h"

int mm_entry(volatile int *p);

static __attribute__((noinline)) int helper(volatile int *p)
{
	return twice(p, 7) + scale(p, 2);
}

static __attribute__((noinline)) int crash(volatile int *p)
{
	volatile int *null = 0;
	if (*p == 42)
		return *null + helper(p);
	return helper(p) * 2;
}

int main(int argc, char **argv)
{
	volatile int v = argc;
	(void)argv;
	printf("%d\n", crash(&v) + mm_entry(&v));
	return 0;
}
