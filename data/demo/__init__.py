"""The Liupanshui (六盘水) demo city: accounts, real boundaries, a synthetic urban core, rasters, grid, cases."""
