"""The pure regime engine (numpy/pandas/hmmlearn, no Django).

- :mod:`.features`: causal features of a reference index;
- :mod:`.hmm`: the 3-state Gaussian HMM, its labelling and the forward filter;
- :mod:`.truth`: bull/bear reference labellings (drawdown rule) and accuracy;
- :mod:`.policy`: the regime → strategy policy and the adaptive strategy;
- :mod:`.hybrid`: technical signals blended with an agent's adjustment.
"""
