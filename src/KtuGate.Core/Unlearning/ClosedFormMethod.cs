using System.Globalization;

namespace KtuGate.Unlearning;

/// <summary>The closed-form edit (<see cref="ClosedFormEdit"/>) at every setting of <see cref="ClosedFormSettings.Search"/>.</summary>
internal sealed class ClosedFormMethod() : UnlearningMethod("closed-form")
{
    internal override IEnumerable<EditCandidate> Candidates(UnlearningProblem problem)
    {
        // Settings with the same margin share their targets (and so the targets' part of the normal equations).
        var targetsByMargin = new Dictionary<double, List<double[]>>();
        foreach (var settings in ClosedFormSettings.Search)
        {
            yield return new EditCandidate(Name, _ =>
            {
                if (!targetsByMargin.TryGetValue(settings.Margin, out var targets))
                {
                    targetsByMargin[settings.Margin] = targets = problem.Forget.Select((f, k) =>
                    {
                        var target = problem.Targets[f.File];
                        return ClosedFormEdit.Target(problem.ForgetOutputs[k], target.Directions, target.Forbidden, target.Allowed, settings.Margin * problem.Margin);
                    }).ToList();
                }

                var (w, b) = problem.Edit.Solve(targets, settings);
                return (w, b, string.Create(CultureInfo.InvariantCulture, $"ridge={settings.Ridge} forgetWeight={settings.ForgetWeight} margin={settings.Margin}"));
            });
        }
    }
}
