"""The bundled demo marketplace (网剑演示商城): generated catalog, ground truth and a local server."""
