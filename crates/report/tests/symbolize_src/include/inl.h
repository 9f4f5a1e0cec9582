/* Inline helpers: their code lands inside their callers. */
static inline __attribute__((always_inline)) int scale(volatile int *p, int k)
{
	int v = *p;
	if (v > 100)
		v -= k;
	return v * k + 3;
}

static inline __attribute__((always_inline)) int twice(volatile int *p, int k)
{
	int a = scale(p, k);
	int b = scale(p, a);
	return a ^ b;
}
