"""Trains backprop and BrainProp on Fashion-MNIST from Python and plots their test accuracy per epoch.

    PYTHONPATH=build/python python3 examples/two_rules.py        # needs python3-matplotlib for the plot
"""
import bioprop

EPOCHS = 3
curves = {}
for rule in ("bp", "brainprop"):
    result = bioprop.train(rule=rule, net="conv", dataset="fashion-mnist", epochs=EPOCHS, progress=True)
    curves[rule] = [e["test_accuracy"] for e in result["epochs"]]
    print(f"{rule}: final test accuracy {100 * result['final_test_accuracy']:.2f}%, "
          f"epochs to 85%: {result['epochs_to_target']}, run folder {result['run_folder']}")

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    raise SystemExit("matplotlib is not installed (apt-get install python3-matplotlib): no plot")
for rule, accuracy in curves.items():
    plt.plot(range(1, len(accuracy) + 1), [100 * a for a in accuracy], marker="o", label=rule)
plt.xlabel("epoch")
plt.ylabel("test accuracy (%)")
plt.title("Fashion-MNIST, conv net")
plt.legend()
plt.savefig("two_rules.png", dpi=120)
print("plot: two_rules.png")
